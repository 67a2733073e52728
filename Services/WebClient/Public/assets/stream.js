// The live stream (GET /v1/stream, docs/api.md "The stream"): one WebSocket while signed in,
// authenticated by the session cookie, reopened after a drop with a growing pause. Views listen
// for the pushes they show (`advisor.status`, `notification`, chat messages).

const listeners = new Map();
let socket = null;
let wanted = false;
let retryMs = 500;
let watching = [];

/** Calls `listener(message)` for every push of `type`. */
export function on(type, listener) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(listener);
}

/** Replaces the advisors whose status changes are pushed (at most 200). */
export function watchAdvisors(ids) {
  watching = ids.slice(0, 200);
  send({ type: "advisors.watch", advisorIds: watching });
}

/** Sends a message on the stream if it is open (typing, read receipts, follows, heartbeats). */
export function send(message) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

/** Opens the stream (signed in) or closes it (signed out). */
export function connect(signedIn) {
  wanted = signedIn;
  if (!signedIn) {
    socket?.close(1000);
    socket = null;
    return;
  }
  if (socket) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const opened = new WebSocket(`${scheme}//${location.host}/v1/stream`);
  socket = opened;
  opened.addEventListener("open", () => {
    retryMs = 500;
    if (watching.length) send({ type: "advisors.watch", advisorIds: watching });
  });
  opened.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    listeners.get(message.type)?.forEach((listener) => listener(message));
  });
  opened.addEventListener("close", (event) => {
    if (socket === opened) socket = null;
    // 4401: the session ended; anything else is worth another try while still wanted.
    if (!wanted || event.code === 4401) return;
    setTimeout(() => connect(wanted), retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  });
}
