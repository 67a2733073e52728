// The cookie banner: the policy's three categories. Strictly necessary cookies (the session) are
// always on; performance and functionality stay off until the person turns them on. The choice is
// kept in this browser, and as the account's consents once signed in (PUT /v1/me/consents).
// A browser that sends Do Not Track or Global Privacy Control is never measured: performance
// stays off whatever is chosen.
import { api } from "./api.js";
import { h, fill } from "./dom.js";

const storageKey = "cookie-choice";

/** Whether the browser asks not to be tracked (DNT or GPC). */
export function declinesTracking() {
  return navigator.doNotTrack === "1" || navigator.globalPrivacyControl === true;
}

/** The choice made in this browser, or null before any. */
export function storedChoice() {
  try {
    const choice = JSON.parse(localStorage.getItem(storageKey));
    if (choice && typeof choice.performance === "boolean" && typeof choice.functionality === "boolean") {
      return { performance: choice.performance && !declinesTracking(), functionality: choice.functionality };
    }
  } catch {}
  return null;
}

/**
 * Keeps `choice` here, and as the signed-in person's consents when `signedIn`. Performance turned
 * off takes its cookie with it (the gateway sets it for its measurement path only).
 */
export async function saveChoice(choice, signedIn) {
  const kept = { performance: choice.performance && !declinesTracking(), functionality: choice.functionality };
  localStorage.setItem(storageKey, JSON.stringify(kept));
  if (!kept.performance) {
    document.cookie = `perf_visit=; Max-Age=0; Path=/v1/page-views; SameSite=Strict${location.protocol === "https:" ? "; Secure" : ""}`;
  }
  if (signedIn) await sendChoice(kept);
  return kept;
}

/** Records the choice of this browser as the signed-in person's consents. */
export async function sendChoice(choice = storedChoice()) {
  if (!choice) return;
  await api("PUT", "/v1/me/consents", {
    performanceCookies: choice.performance && !declinesTracking(),
    functionalityCookies: choice.functionality,
  });
}

/** Shows the banner until a choice is made; `isSignedIn()` says whether to record it as consents. */
export function showBanner(banner, isSignedIn, onChosen = () => {}) {
  const tracking = declinesTracking();
  const performance = h("input", { type: "checkbox", id: "consent-performance", name: "performance", disabled: tracking });
  const functionality = h("input", { type: "checkbox", id: "consent-functionality", name: "functionality" });
  const choose = async (choice) => {
    const kept = await saveChoice(choice, isSignedIn());
    banner.hidden = true;
    onChosen(kept);
  };
  fill(
    banner,
    h("h2", { id: "cookie-banner-title" }, "Cookies on this site"),
    h("p", {}, "We use cookies in three ways. Only the strictly necessary ones are on unless you choose otherwise; you can change this at any time in your privacy center."),
    h(
      "form",
      { class: "choices", onsubmit: (event) => {
          event.preventDefault();
          choose({ performance: performance.checked, functionality: functionality.checked });
        } },
      h("p", {}, h("input", { type: "checkbox", id: "consent-necessary", checked: true, disabled: true }), " ",
        h("label", { for: "consent-necessary" }, "Strictly necessary: keeping you signed in and secure (always on)")),
      h("p", {}, performance, " ", h("label", { for: "consent-performance" }, "Performance: measuring how pages load and are used"),
        tracking ? h("span", { class: "hint" }, " (off: your browser asks not to be tracked)") : null),
      h("p", {}, functionality, " ", h("label", { for: "consent-functionality" }, "Functionality: remembering your searches and preferences")),
      h("div", { class: "actions" },
        h("button", { type: "submit", id: "cookie-save" }, "Save my choices"),
        h("button", { type: "button", id: "cookie-reject", onclick: () => choose({ performance: false, functionality: false }) }, "Only strictly necessary"),
        h("button", { type: "button", id: "cookie-accept", onclick: () => choose({ performance: true, functionality: true }) }, "Accept all")),
    ),
  );
  banner.hidden = false;
}
