// Calling the platform's public API (docs/api.md) with the session cookie.

/** A problem answer (RFC 9457) as an error: `status`, `code`, and the API's own message. */
export class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `The request failed (${status}).`);
    this.status = status;
    this.code = body?.code || body?.type || String(status);
    this.body = body;
  }
}

const policyListeners = new Set();

/** Calls `listener(version)` whenever an answer asks for a new policy version to be accepted. */
export function onPolicyAcceptanceRequired(listener) {
  policyListeners.add(listener);
}

/**
 * One call: JSON in and out, the cookie sent by the browser (same origin), never a token in
 * script. Answers without a body give null; problems throw `Problem`.
 */
export async function api(method, path, body, { signal, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const version = response.headers.get("Policy-Acceptance-Required");
  if (version) policyListeners.forEach((listener) => listener(version));
  const text = await response.text();
  const parsed = text ? safeJSON(text) : null;
  if (!response.ok) throw new Problem(response.status, parsed);
  return parsed;
}

function safeJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** What to tell the person about a failed call: the API's own words, with the fields it names. */
export function problemText(error) {
  if (error instanceof Problem) {
    const fields = error.body?.errors?.map((e) => `${e.field}: ${e.code}`).join(", ");
    return fields ? `${error.message} (${fields})` : error.message;
  }
  return "The platform could not be reached. Check your connection and try again.";
}

/** The signed-in account, or null. */
export async function currentAccount() {
  try {
    return await api("GET", "/v1/me");
  } catch (error) {
    if (error instanceof Problem && error.status === 401) return null;
    throw error;
  }
}
