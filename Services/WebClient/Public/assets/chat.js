// Paid chats, live: the member's request, the advisor's console, the room both share. Messages are
// sent over HTTP (stored and numbered before the answer) and arrive over the stream; after a drop
// the room asks for what it missed, so nothing is lost and nothing shows twice (by `seq`).
import { api, Problem, problemText } from "./api.js";
import { h, fill, money, status, submitting } from "./dom.js";
import * as stream from "./stream.js";

/** The room on screen now, if any: pushes for its chat go to it. */
let room = null;

stream.on("chat.message", (message) => room?.chatId === message.chatId && room.add([message]));
stream.on("chat.typing", (message) => room?.chatId === message.chatId && room.typing(message.senderId));
stream.on("chat.read", (message) => room?.chatId === message.chatId && room.read(message.seq));
for (const type of ["chat.accepted", "chat.declined", "chat.ended", "chat.paid-phase", "billing.paused", "billing.resumed"]) {
  stream.on(type, (message) => room?.chatId === message.chatId && room.refresh());
}
stream.on("billing.minute-left", (message) => room?.chatId === message.chatId && room.minuteLeft());
// After a reconnection the stream says `ready`: read the chat again (states are not replayed) and
// fetch whatever messages the room missed meanwhile.
stream.on("ready", () => room?.refresh());

/** A member asks an advisor for a chat and goes to its room. */
export async function startChat(advisorId) {
  const chat = await api("POST", "/v1/chats", { advisorId });
  location.hash = `#/chats/${chat.id}`;
}

/** The caller's chats, newest first. */
export async function chats(main, app) {
  if (!app.account) {
    fill(main, h("h1", {}, "Chats"), h("p", {}, h("a", { href: "#/sign-in" }, "Sign in"), " to see your chats."));
    return;
  }
  const page = await api("GET", "/v1/chats");
  fill(main, h("h1", {}, "Your chats"),
    page.items.length === 0 ? h("p", {}, "No chats yet. ", h("a", { href: "#/" }, "Find an advisor")) :
      h("ul", { id: "chat-list" }, page.items.map((chat) => {
        const other = app.account.id === chat.member.id ? chat.advisor : chat.member;
        return h("li", {}, h("a", { href: `#/chats/${chat.id}` }, `${other.displayName}`),
          ` · ${new Date(chat.requestedAt).toLocaleString()} · ${chat.status} · ${chat.minutes} min`,
          chat.costCents !== undefined && chat.costCents !== null ? ` · ${money(chat.costCents)}` : "");
      })));
}

/** One chat's room, for either participant. */
export async function chatRoom(main, app, chatId) {
  room?.close();
  const me = app.account?.id;
  let chat = await api("GET", `/v1/chats/${encodeURIComponent(chatId)}`);
  const list = h("ol", { id: "messages", class: "messages", "aria-label": "Messages" });
  // Screen readers hear each new message and each change of state here, once, not the whole list.
  const announce = h("p", { id: "chat-announce", class: "visually-hidden", "aria-live": "polite" });
  const state = h("p", { id: "chat-state", class: "lead" });
  const cost = h("p", { id: "chat-cost", class: "meta" });
  const typingLine = h("p", { id: "typing", class: "meta", "aria-live": "polite" });
  const warning = h("div", { id: "chat-warning" });
  const message = h("div", { id: "chat-message", "aria-live": "polite" });
  const input = h("textarea", { id: "chat-input", name: "text", rows: 2, maxlength: 4000, "aria-label": "Your message" });
  const seen = new Map();
  let readUpTo = 0;
  let readSent = 0;
  let lastTypingSent = 0;
  let typingTimer = null;
  let ticker = null;
  const other = () => (me === chat.member.id ? chat.advisor : chat.member);

  const line = (item) => {
    const mine = item.senderId === me;
    return h("li", { class: mine ? "mine" : "theirs", "data-seq": item.seq },
      h("span", { class: "who" }, mine ? "You" : other().displayName), " ",
      h("span", { class: "text" }, item.text),
      mine && item.seq <= readUpTo ? h("span", { class: "receipt" }, " · Read") : null);
  };
  const draw = () => {
    const items = [...seen.values()].sort((a, b) => a.seq - b.seq);
    const children = [];
    for (const item of items) {
      children.push(line(item));
      if (chat.paidPhaseAfterSeq && item.seq === chat.paidPhaseAfterSeq) {
        children.push(h("li", { class: "divider", id: "paid-phase" }, "Free minutes end here; paid minutes start"));
      }
    }
    fill(list, children);
    list.scrollTop = list.scrollHeight;
    const last = items.filter((item) => item.senderId !== me).at(-1);
    // Told once per newer message, so two open rooms never answer each other's receipts.
    if (last && last.seq > readSent && chat.status === "active") {
      readSent = last.seq;
      stream.send({ type: "chat.read", chatId, seq: last.seq });
    }
  };
  /** The highest seq with every message up to it here: where to ask from after a gap. */
  const contiguous = () => {
    let seq = 0;
    while (seen.has(seq + 1)) seq += 1;
    return seq;
  };
  let described = "";
  const describe = () => {
    clearInterval(ticker);
    if (described !== `${chat.status}:${chat.paused}`) {
      described = `${chat.status}:${chat.paused}`;
      fill(announce, { requested: "Chat requested.", active: chat.paused ? "The chat is paused." : "The chat is on.",
        ended: "The chat has ended.", declined: "The request was declined.", expired: "The request expired." }[chat.status] || "");
    }
    const price = `${money(chat.pricePerMinuteCents)} a minute`;
    if (chat.status === "requested") {
      const tick = () => {
        const left = Math.max(0, Math.round((new Date(chat.expiresAt) - Date.now()) / 1000));
        fill(state, me === chat.member.id ? `Waiting for ${other().displayName} to accept… (${left} s)` : `${other().displayName} asks for a chat (${left} s to answer)`);
      };
      tick();
      ticker = setInterval(tick, 1000);
    } else if (chat.status === "active") {
      fill(state, !chat.paused ? `Chatting with ${other().displayName} · ${price}` : me === chat.member.id
        ? h("span", {}, "Paused: ", h("a", { href: "#/wallet", target: "_blank", rel: "noopener" }, "add funds"), " to go on; the pause is not charged.")
        : `Paused while ${other().displayName} adds funds.`);
      if (chat.paused) {
        fill(cost, "Nothing is charged while the chat is paused.");
      } else {
        const tick = () => {
          const started = Math.ceil((Date.now() - new Date(chat.acceptedAt)) / 60000);
          const paid = Math.max(0, started - chat.freeMinutes);
          fill(cost, `${started} minute${started === 1 ? "" : "s"}${chat.freeMinutes ? ` (${chat.freeMinutes} free)` : ""} · about ${money(paid * chat.pricePerMinuteCents)} so far`);
        };
        tick();
        ticker = setInterval(tick, 5000);
      }
    } else {
      fill(state, chat.status === "ended" ? `The chat has ended (${chat.endReason || "ended"}).` : `The request was ${chat.status}.`);
      fill(cost, chat.status === "ended"
        ? h("span", { id: "receipt" }, `${chat.minutes} minute${chat.minutes === 1 ? "" : "s"}`, chat.freeMinutes ? `, ${chat.freeMinutes} free` : "",
          chat.costCents !== undefined && chat.costCents !== null ? ` · charged ${money(chat.costCents)}` : " · the charge is being settled")
        : "");
    }
    // The pause (or the end) says more than the warning before it; billing warns again after a resumption if funds are still short.
    if (chat.status !== "active" || chat.paused) fill(warning);
    controls.hidden = chat.status !== "active";
    // Billing decides a refund against the settled charge, which comes a moment after the end.
    refund.hidden = refundAsked || !(chat.status === "ended" && me === chat.member.id && chat.minutes > 0 && chat.costCents != null);
    review.hidden = reviewed || !(chat.status === "ended" && me === chat.member.id && chat.costCents > 0);
    // Billing settles the charge a moment after the end: read the chat again until it has.
    clearTimeout(settleTimer);
    if (chat.status === "ended" && chat.costCents == null && settleChecks < 30) {
      settleChecks += 1;
      settleTimer = setTimeout(() => room === self && self.reload().catch(() => {}), 2000);
    }
    accept.hidden = !(chat.status === "requested" && me === chat.advisor.id);
    decline.hidden = accept.hidden;
    end.hidden = !(chat.status === "active" || (chat.status === "requested" && me === chat.member.id));
    end.textContent = chat.status === "requested" ? "Withdraw the request" : "End the chat";
  };
  const act = (path) => submitting(message, async () => {
    chat = await api("POST", `/v1/chats/${chatId}/${path}`);
    describe();
  });
  const refund = h("form", { id: "refund-form", class: "stack", onsubmit: submitting(message, async (values) => {
      try {
        const decided = await api("POST", `/v1/chats/${chatId}/refund-requests`, { reason: values.reason });
        fill(message, status(decided.status === "approved" ? `Refund approved: ${money(decided.amountCents)} back to your wallet.` : "Refund declined under the guarantee's rules."));
      } catch (error) {
        if (!(error instanceof Problem && error.code === "refund_already_requested")) throw error;
        fill(message, status("You have asked for a refund of this chat already."));
      }
      // Kept hidden through the room's later redraws (the settle check, stream events).
      refundAsked = true;
      refund.hidden = true;
    }) },
    h("label", { for: "refund-reason" }, "Not satisfied? Ask for a refund under our guarantee"),
    h("textarea", { id: "refund-reason", name: "reason", required: true, maxlength: 1000, rows: 2 }),
    h("button", { type: "submit" }, "Ask for a refund"));
  let reviewed = false;
  let refundAsked = false;
  let settleChecks = 0;
  let settleTimer = null;
  const review = h("form", { id: "review-form", class: "stack", onsubmit: submitting(message, async (values) => {
      try {
        await postReview(chat, { chatId, rating: Number(values.rating), text: values.text.trim() });
        fill(message, status(`Thank you: your review is on ${other().displayName}'s page.`));
      } catch (error) {
        if (!(error instanceof Problem && error.code === "already_reviewed")) throw error;
        fill(message, status("You have reviewed this chat already."));
      }
      reviewed = true;
      review.hidden = true;
    }) },
    h("fieldset", {}, h("legend", {}, "How was your chat? Leave a review"),
      [5, 4, 3, 2, 1].map((stars) => h("p", {},
        h("input", { type: "radio", name: "rating", value: stars, id: `review-rating-${stars}`, required: true }), " ",
        h("label", { for: `review-rating-${stars}` }, `${"★".repeat(stars)} ${stars} of 5`)))),
    h("label", { for: "review-text" }, "Your review (public, shown with your display name)"),
    h("textarea", { id: "review-text", name: "text", required: true, maxlength: 2000, rows: 3 }),
    h("button", { type: "submit" }, "Publish the review"));
  const accept = h("button", { type: "button", id: "chat-accept", onclick: act("accept") }, "Accept");
  const decline = h("button", { type: "button", id: "chat-decline", onclick: act("decline") }, "Decline");
  const end = h("button", { type: "button", id: "chat-end", class: "danger", onclick: act("end") }, "End the chat");
  const controls = h("form", { id: "chat-form", class: "stack", onsubmit: submitting(message, async () => {
      const text = input.value.trim();
      if (!text) return;
      const sent = await api("POST", `/v1/chats/${chatId}/messages`, { text, clientMessageId: crypto.randomUUID() });
      input.value = "";
      self.add([sent]);
      // The Send button was disabled while sending: keep the writer in the text box.
      input.focus();
    }) },
    input, h("button", { type: "submit", id: "chat-send" }, "Send"));
  input.addEventListener("input", () => {
    if (Date.now() - lastTypingSent < 2000) return;
    lastTypingSent = Date.now();
    stream.send({ type: "chat.typing", chatId });
  });

  const self = {
    chatId,
    add(items) {
      const fresh = items.filter((item) => !seen.has(item.seq));
      for (const item of items) seen.set(item.seq, item);
      const heard = fresh.filter((item) => item.senderId !== me).at(-1);
      if (heard) fill(announce, `${other().displayName}: ${heard.text}`);
      draw();
    },
    typing(senderId) {
      if (senderId === me) return;
      fill(typingLine, `${other().displayName} is typing…`);
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => fill(typingLine), 3000);
    },
    read(seq) {
      readUpTo = Math.max(readUpTo, seq);
      draw();
    },
    minuteLeft() {
      fill(warning, h("p", { class: "status error", role: "alert" }, me === chat.member.id
        ? ["One minute of funds left. ", h("a", { href: "#/wallet", target: "_blank", rel: "noopener" }, "Add funds"),
          " to keep talking; when they run out the chat pauses, uncharged, until you do."]
        : `${other().displayName} has one minute of funds left; the chat pauses if they run out.`));
    },
    async refresh() {
      await self.reload();
      await self.catchUp();
    },
    /** The chat's state alone, read again (its messages are not). */
    async reload() {
      chat = await api("GET", `/v1/chats/${chatId}`);
      describe();
    },
    async catchUp() {
      let after = contiguous();
      for (;;) {
        const page = await api("GET", `/v1/chats/${chatId}/messages?after=${after}&limit=500`);
        chat.paidPhaseAfterSeq = page.paidPhaseAfterSeq ?? chat.paidPhaseAfterSeq;
        self.add(page.items);
        if (!page.nextAfter) break;
        after = page.nextAfter;
      }
      stream.send({ type: "chat.follow", chatId, seq: contiguous() });
    },
    close() {
      clearInterval(ticker);
      clearTimeout(settleTimer);
      if (room === self) room = null;
    },
  };
  room = self;
  fill(main,
    h("p", {}, h("a", { href: "#/chats" }, "← Your chats")),
    h("h1", {}, `Chat with ${other().displayName}`),
    state, cost, warning, list, announce, typingLine, controls, h("p", {}, accept, " ", decline, " ", end), review, refund, message);
  describe();
  await self.catchUp();
}

/**
 * A review of an ended, paid chat (the form shows only for one). The directory learns of the
 * charge from billing a moment after the chat shows it, so a refusal is asked again a few times,
 * a second apart, before it is believed.
 */
async function postReview(chat, body) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await api("POST", `/v1/advisors/${chat.advisor.id}/reviews`, body);
    } catch (error) {
      if (!(error instanceof Problem && error.code === "review_not_allowed" && attempt < 6)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/** Leaves the room and the console (another page opened): an advisor is available only while the console is open. */
export function leavePage() {
  room?.close();
  stopHeartbeat();
}

function stopHeartbeat() {
  clearInterval(heartbeat);
  heartbeat = null;
}

// MARK: The advisor's console

let heartbeat = null;
const requests = new Map();
let drawRequests = () => {};

stream.on("chat.requested", (message) => {
  requests.set(message.chatId, message);
  drawRequests();
});
// A request answered, withdrawn or expired (wherever) waits no more.
for (const type of ["chat.accepted", "chat.declined", "chat.ended"]) {
  stream.on(type, (message) => requests.delete(message.chatId) && drawRequests());
}

/** Availability (online keeps a heartbeat going while the page is open), requests, earnings. */
export async function advisorConsole(main, app) {
  if (app.account?.role !== "advisor") {
    fill(main, h("h1", {}, "Advisor console"), h("p", {}, "For advisors. ", app.account ? "" : h("a", { href: "#/sign-in" }, "Sign in")));
    return;
  }
  const [profile, earnings, categories, recent] = await Promise.all([api("GET", "/v1/advisors/me"), api("GET", "/v1/advisors/me/earnings"),
    api("GET", "/v1/categories"), api("GET", "/v1/chats?limit=20")]);
  // Requests made before the console opened still wait here; later ones arrive on the stream.
  for (const chat of recent.items) {
    if (chat.status === "requested" && chat.advisor.id === app.account.id) {
      requests.set(chat.id, { chatId: chat.id, member: chat.member, pricePerMinuteCents: chat.pricePerMinuteCents, expiresAt: chat.expiresAt });
    }
  }
  const message = h("div", { id: "console-message", "aria-live": "polite" });
  // Busy (in a chat, or a request waiting) is available too: the chat's end gives the advisor back online.
  const online = h("input", { type: "checkbox", id: "available", checked: profile.status !== "offline" });
  const incoming = h("ul", { id: "requests" });
  drawRequests = () => {
    const waiting = [...requests.values()].filter((request) => new Date(request.expiresAt) > Date.now());
    fill(incoming, waiting.length === 0 ? h("li", {}, "No requests right now.") : waiting.map((request) =>
      h("li", {}, `${request.member.displayName} · ${money(request.pricePerMinuteCents)} a minute `,
        h("a", { href: `#/chats/${request.chatId}`, class: "button", id: `open-${request.chatId}` }, "Answer"))));
  };
  const setAvailability = async () => {
    fill(message);
    try {
      await api("PUT", "/v1/advisors/me/status", { status: online.checked ? "online" : "offline" });
      keepPresence(online.checked);
    } catch (error) {
      online.checked = !online.checked;
      fill(message, status(problemText(error), "error"));
    }
  };
  online.addEventListener("change", setAvailability);
  const [tax, reviews] = await Promise.all([taxSection(), profile.listed ? reviewsSection(app.account.id) : null]);
  fill(main,
    h("h1", {}, "Advisor console"),
    h("p", {}, online, " ", h("label", { for: "available" }, "Available for chats (while this page is open)")),
    profile.listed ? null : h("p", { class: "status error" }, "Your profile is not listed yet: it needs a headline, a category and a price."),
    h("h2", {}, "Requests"), incoming,
    h("h2", {}, "Earnings"),
    h("p", { id: "earnings" }, `Available ${money(earnings.availableCents)} · being paid out ${money(earnings.pendingCents)} · paid out ${money(earnings.paidOutCents)} · our commission ${earnings.commissionPercent}%`),
    message,
    payoutsSection(earnings),
    tax,
    reviews,
    profileEditor(profile, categories));
  drawRequests();
  if (profile.status === "online") await setAvailability();
  else keepPresence(profile.status === "busy");
}

/** Heartbeats on the stream while `available`, so the directory keeps the advisor online after a chat too. */
function keepPresence(available) {
  stopHeartbeat();
  if (available) heartbeat = setInterval(() => stream.send({ type: "presence.heartbeat" }), 20000);
}

/** The advisor's profile, edited beside a preview of the card members will see, as it is typed. */
function profileEditor(profile, categories) {
  const message = h("div", { id: "profile-message", "aria-live": "polite" });
  const preview = h("div", { id: "profile-preview", class: "card", "aria-label": "Preview of your listing" });
  const form = h("form", { id: "profile-form", class: "stack" },
    h("label", { for: "profile-headline" }, "Headline"),
    h("input", { id: "profile-headline", name: "headline", maxlength: 120, value: profile.headline || "" }),
    h("label", { for: "profile-bio" }, "About you"),
    h("textarea", { id: "profile-bio", name: "bio", maxlength: 4000, rows: 5 }, profile.bio || ""),
    h("label", { for: "profile-price" }, "Price per minute, in cents"),
    h("input", { id: "profile-price", name: "pricePerMinuteCents", type: "number", min: 99, max: 4999, value: profile.pricePerMinuteCents ?? "" }),
    h("fieldset", {}, h("legend", {}, "Categories (up to 5)"),
      categories.map((category) => h("p", {},
        h("input", { type: "checkbox", id: `category-${category.slug}`, name: "categories", value: category.slug,
          checked: profile.categories.includes(category.slug) }), " ",
        h("label", { for: `category-${category.slug}` }, category.name)))),
    h("button", { type: "submit" }, "Save my profile"));
  const values = () => {
    const data = new FormData(form);
    return { headline: String(data.get("headline") || ""), bio: String(data.get("bio") || ""),
      pricePerMinuteCents: Number(data.get("pricePerMinuteCents")) || 0, categories: data.getAll("categories").map(String) };
  };
  const drawPreview = () => {
    const now = values();
    fill(preview, h("h3", {}, profile.displayName), h("p", {}, now.headline || "(your headline)"),
      h("p", { class: "meta" }, now.pricePerMinuteCents ? `${money(now.pricePerMinuteCents)}/min · ` : "",
        now.categories.map((slug) => categories.find((c) => c.slug === slug)?.name || slug).join(", ")),
      h("p", {}, now.bio));
  };
  form.addEventListener("input", drawPreview);
  // Categories are many values of one name: read with values(), not the handler's one-per-name object.
  form.addEventListener("submit", submitting(message, async () => {
    const now = values();
    const body = { categories: now.categories };
    if (now.headline) body.headline = now.headline;
    if (now.bio) body.bio = now.bio;
    if (now.pricePerMinuteCents) body.pricePerMinuteCents = now.pricePerMinuteCents;
    const saved = await api("PUT", "/v1/advisors/me", body);
    fill(message, status(saved.listed ? "Saved: your profile is listed." : "Saved. To be listed it needs a headline, a category and a price."));
  }));
  drawPreview();
  return h("section", { "aria-labelledby": "profile-editor-title" },
    h("h2", { id: "profile-editor-title" }, "Your profile"), h("div", { class: "editor" }, form, h("div", {}, h("p", { class: "meta" }, "Preview"), preview)), message);
}

/** Asking for a payout of what is available (one Idempotency-Key per request until it succeeds), and the payouts so far. */
function payoutsSection(earnings) {
  const message = h("div", { id: "payout-message", "aria-live": "polite" });
  const list = h("ul", { id: "payouts" });
  let key = crypto.randomUUID();
  const load = async () => {
    const page = await api("GET", "/v1/advisors/me/payouts?limit=10");
    fill(list, page.items.map((payout) => h("li", {}, `${new Date(payout.createdAt).toLocaleString()} · ${money(payout.amountCents)} · ${payout.status}`)));
  };
  load().catch(() => {});
  return h("section", { "aria-labelledby": "payouts-title" },
    h("h2", { id: "payouts-title" }, "Payouts"),
    h("form", { id: "payout-form", class: "stack", onsubmit: submitting(message, async (values) => {
        const payout = await api("POST", "/v1/advisors/me/payouts", { amountCents: Math.round(Number(values.amount) * 100) },
          { headers: { "Idempotency-Key": key } });
        key = crypto.randomUUID();
        fill(message, status(`Payout of ${money(payout.amountCents)} requested.`));
        await load();
      }) },
      h("label", { for: "payout-amount" }, `Amount in dollars (available: ${money(earnings.availableCents)})`),
      h("input", { id: "payout-amount", name: "amount", type: "number", min: 1, step: "0.01", required: true }),
      h("button", { type: "submit" }, "Ask for a payout")),
    message, list);
}

/** The advisor's reviews, newest first, each answerable once, in public. */
async function reviewsSection(advisorId) {
  // Reviews are public only while the profile is listed (404 otherwise, as when it is taken off meanwhile).
  const page = await api("GET", `/v1/advisors/${advisorId}/reviews?limit=20`).catch(() => ({ items: [] }));
  const item = (review) => {
    const message = h("div", { "aria-live": "polite" });
    const answer = review.reply ? h("p", { class: "reply" }, `You replied: ${review.reply.text}`) :
      h("form", { class: "stack", onsubmit: submitting(message, async (values) => {
          const answered = await api("POST", `/v1/reviews/${review.id}/reply`, { text: values.text.trim() });
          entry.replaceWith(item(answered));
        }) },
        h("label", { for: `reply-${review.id}` }, "Your public reply (once)"),
        h("textarea", { id: `reply-${review.id}`, name: "text", required: true, maxlength: 2000, rows: 2 }),
        h("button", { type: "submit" }, "Reply"));
    const entry = h("li", { "data-review": review.id },
      h("p", { class: "meta" }, `${"★".repeat(review.rating)} by ${review.author.displayName} · ${new Date(review.createdAt).toLocaleDateString()}`),
      h("p", {}, review.text), answer, message);
    return entry;
  };
  return h("section", { "aria-labelledby": "reviews-title" },
    h("h2", { id: "reviews-title" }, "Your reviews"),
    page.items.length === 0 ? h("p", {}, "No reviews yet.") : h("ul", { id: "my-reviews", class: "reviews" }, page.items.map(item)));
}

/**
 * Tax information: the W-9 a US person certifies, or the W-8BEN of anyone else. The tax id goes
 * in whole and only its last four come back.
 */
async function taxSection() {
  const message = h("div", { id: "tax-message", "aria-live": "polite" });
  let current = null;
  try {
    current = await api("GET", "/v1/advisors/me/tax-info");
  } catch {}
  const fields = current?.fields || {};
  const field = (id, label, attributes = {}) => h("div", { class: "stack" }, h("label", { for: `tax-${id}` }, label),
    h("input", { id: `tax-${id}`, name: id, ...attributes }));
  const choice = (form, label) => h("p", {},
    h("input", { type: "radio", name: "taxForm", id: `tax-form-${form}`, value: form, checked: (fields.form || "w9") === form }), " ",
    h("label", { for: `tax-form-${form}` }, label));
  // What only one of the two forms asks; the other form's part is hidden and left out.
  const w9Only = h("div", { class: "stack" },
    h("label", { for: "tax-taxClassification" }, "Federal tax classification"),
    h("select", { id: "tax-taxClassification", name: "taxClassification" },
      [["individual", "Individual"], ["sole_proprietor", "Sole proprietor"], ["c_corporation", "C corporation"],
        ["s_corporation", "S corporation"], ["partnership", "Partnership"], ["trust_estate", "Trust or estate"], ["llc", "LLC"]].map(([value, label]) =>
        h("option", { value, selected: fields.taxClassification === value }, label))));
  const w8Only = h("div", { class: "stack" },
    field("citizenshipCountry", "Country of citizenship (two letters, e.g. GB)",
      { maxlength: 2, pattern: "[A-Za-z]{2}", autocomplete: "off", value: fields.citizenshipCountry || "" }),
    field("country", "Country of your address (two letters)",
      { maxlength: 2, pattern: "[A-Za-z]{2}", autocomplete: "country", value: fields.address?.country || "" }));
  const regionLabel = h("label", { for: "tax-region" });
  const idLabel = h("label", { for: "tax-taxId" });
  const region = h("input", { id: "tax-region", name: "region", maxlength: 100, value: fields.address?.region || "", autocomplete: "address-level1" });
  const taxId = h("input", { id: "tax-taxId", name: "taxId", required: true, maxlength: 30, autocomplete: "off" });
  const form = h("form", { id: "tax-form", class: "stack", onsubmit: submitting(message, async (values) => {
      const us = values.taxForm === "w9";
      const address = { line1: values.line1, city: values.city, postalCode: values.postalCode, country: us ? "US" : values.country.toUpperCase() };
      if (values.region.trim()) address.region = values.region.trim();
      const sent = us ? { form: "w9", legalName: values.legalName, taxClassification: values.taxClassification, address }
        : { form: "w8ben", legalName: values.legalName, citizenshipCountry: values.citizenshipCountry.toUpperCase(), address };
      const saved = await api("PUT", "/v1/advisors/me/tax-info", {
        fields: sent, taxId: us ? values.taxId.replace(/\D/g, "") : values.taxId.trim(), certified: values.certified === "on" });
      // Each saving is certified anew.
      form.taxId.value = "";
      form.certified.checked = false;
      fill(state, described(saved));
      fill(message, status("Saved."));
    }) },
    h("fieldset", {}, h("legend", {}, "Which form"), choice("w9", "I am a US person (W-9)"), choice("w8ben", "I am not a US person (W-8BEN)")),
    field("legalName", "Legal name", { required: true, maxlength: 200, value: fields.legalName || "", autocomplete: "name" }),
    w9Only, w8Only,
    field("line1", "Address", { required: true, maxlength: 200, value: fields.address?.line1 || "", autocomplete: "address-line1" }),
    field("city", "City", { required: true, maxlength: 100, value: fields.address?.city || "", autocomplete: "address-level2" }),
    h("div", { class: "stack" }, regionLabel, region),
    field("postalCode", "Postal code", { required: true, maxlength: 20, value: fields.address?.postalCode || "", autocomplete: "postal-code" }),
    h("div", { class: "stack" }, idLabel, taxId),
    h("p", {}, h("input", { type: "checkbox", id: "tax-certified", name: "certified", required: true }), " ",
      h("label", { for: "tax-certified" }, "Under penalties of perjury, I certify that the information above is correct.")),
    h("button", { type: "submit" }, "Save tax information"));
  const described = (info) => `${info.fields.form === "w8ben" ? "W-8BEN" : "W-9"} certified ${new Date(info.certifiedAt).toLocaleDateString()}, tax id ending ${info.taxIdLast4}.`;
  const state = h("p", { id: "tax-state" }, current ? described(current) : "Not given yet.");
  const showForm = () => {
    const us = form.taxForm.value === "w9";
    w9Only.hidden = !us;
    w8Only.hidden = us;
    for (const input of w8Only.querySelectorAll("input")) {
      input.disabled = us;
      input.required = !us;
    }
    region.required = us;
    fill(regionLabel, us ? "State" : "Region or province (if your address has one)");
    fill(idLabel, us ? "SSN, ITIN or EIN (nine digits; we show only its last four afterwards)"
      : "Your tax id in your country (we show only its last four afterwards)");
    taxId.inputMode = us ? "numeric" : "text";
  };
  form.addEventListener("change", (event) => {
    if (event.target.name !== "taxForm") return;
    // A US state is no region abroad, nor the other way round.
    region.value = "";
    showForm();
  });
  showForm();
  return h("section", { "aria-labelledby": "tax-title" }, h("h2", { id: "tax-title" }, "Tax information"), state, form, message);
}
