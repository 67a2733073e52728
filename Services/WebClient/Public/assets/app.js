// Start-up: the header, the routes, the cookie banner and the policy prompt.
import { api, currentAccount, onPolicyAcceptanceRequired } from "./api.js";
import { showBanner, storedChoice } from "./consent.js";
import { h, fill, liveStatus } from "./dom.js";
import * as stream from "./stream.js";
import * as views from "./views.js";
import * as chat from "./chat.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");

const app = {
  account: null,
  /** Whether this person has posted on the boards from this page (the public notice is then known). */
  postedOnBoards: false,
  /** Unread notices, as the nav shows them. */
  unread: 0,
  /** Asks who is signed in again and redraws the header. */
  async refresh() {
    try {
      app.account = await currentAccount();
    } catch {
      app.account = null;
    }
    try {
      const unread = app.account ? await api("GET", "/v1/me/notifications?unread=true&limit=100") : null;
      app.unread = unread ? unread.items.length : 0;
    } catch {
      app.unread = 0;
    }
    stream.connect(app.account !== null);
    drawNav();
  },
  /** A notice came (+1) or was read (-1): the nav's count follows without asking again. */
  unreadChanged(delta) {
    app.unread = Math.max(0, app.unread + delta);
    drawNav();
  },
};

function drawNav() {
  const link = (href, text) => h("li", {}, h("a", { href }, text));
  fill(nav,
    link("#/", "Advisors"),
    link("#/boards", "Boards"),
    app.account ? [
      h("li", {}, h("a", { href: "#/inbox", id: "inbox-link" }, "Inbox",
        app.unread ? h("span", { class: "count-badge", id: "unread-count" }, ` ${app.unread} new`) : null)),
      link("#/chats", "Chats"),
      app.account.role === "member" ? link("#/wallet", "Wallet") : null,
      app.account.role === "advisor" ? link("#/console", "Console") : null,
      views.isStaff(app.account) ? link("#/staff", "Staff") : null,
      link("#/privacy", "Privacy center"),
      h("li", {}, h("button", { type: "button", id: "sign-out", class: "link", onclick: signOut }, `Sign out ${app.account.displayName}`)),
    ] : [link("#/sign-in", "Sign in"), link("#/join", "Join")],
    h("li", {}, h("button", { type: "button", id: "cookie-settings", class: "link", onclick: openBanner }, "Cookie settings")));
}

async function signOut() {
  chat.leavePage();
  try {
    await api("DELETE", "/v1/sessions/current");
  } catch {}
  await app.refresh();
  location.hash = "#/";
}

function openBanner() {
  showBanner(document.getElementById("cookie-banner"), () => app.account !== null);
}

// Whenever an answer says a newer policy must be accepted, ask once, above the page.
onPolicyAcceptanceRequired((version) => {
  const prompt = document.getElementById("policy-prompt");
  if (!prompt.hidden && prompt.dataset.version === version) return;
  prompt.dataset.version = version;
  fill(prompt,
    h("h2", { id: "policy-prompt-title" }, "Our privacy policy has changed"),
    h("p", {}, `Please read and accept version ${version} to go on using your account.`),
    h("button", { type: "button", id: "policy-accept", onclick: async () => {
        try {
          await api("POST", "/v1/me/policy-acceptances", { version });
          prompt.hidden = true;
        } catch (error) {
          prompt.append(liveStatus(error.message, "error"));
        }
      } }, `Accept version ${version}`));
  prompt.hidden = false;
  document.getElementById("policy-accept").focus();
});

// Live pushes: an advisor's status wherever it shows; a new notice in the nav (and the inbox).
stream.on("advisor.status", (message) => views.showStatus(message.advisorId, message.status));
stream.on("notification", () => {
  app.unreadChanged(1);
  if (location.hash === "#/inbox") route({ counted: false });
});

/**
 * The client's pages, an item's before its list's: the fragment's first segment, whether it needs an item (`#/chats/<id>`), the
 * page's name as performance measurement counts it (the gateway's `PageViewRoutes.pages`), and
 * what draws it.
 */
const pages = [
  ["", false, "directory", views.directory],
  ["advisors", true, "advisor", views.advisor],
  ["join", false, "join", views.join],
  ["sign-in", false, "sign-in", views.signIn],
  ["privacy", false, "privacy", views.privacy],
  ["inbox", false, "inbox", views.inbox],
  ["wallet", false, "wallet", views.wallet],
  ["chats", true, "chat", chat.chatRoom],
  ["chats", false, "chats", chat.chats],
  ["console", false, "console", chat.advisorConsole],
  ["staff", false, "staff", views.staff],
  ["notification-settings", false, "notification-settings", views.notificationSettings],
  ["boards", true, "board", views.board],
  ["boards", false, "boards", views.boards],
  ["threads", true, "thread", views.thread],
];

function notFound(view) {
  fill(view, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the directory")));
}

/** How many pages were asked for: a page still loading when another is asked for is dropped. */
let routes = 0;

/**
 * Draws the page the fragment names; `counted`: a page shown anew, not redrawn, for performance
 * measurement. Each page draws into a container of its own, so a slow page finishing after the
 * next one was asked for fills a container no longer on screen.
 */
async function route({ counted = true } = {}) {
  const mine = ++routes;
  // The first page counts from the navigation itself; later ones from the click.
  const started = mine === 1 ? 0 : performance.now();
  const view = h("div", { class: "page" });
  main.replaceChildren(view);
  const [, segment = "", id] = location.hash.replace(/^#\/?/, "/").split("/");
  const [, , name, draw] = pages.find(([first, named]) => first === segment && (!named || id)) ?? [, , "not-found", notFound];
  chat.leavePage();
  try {
    await draw(view, app, id && decodeURIComponent(id));
  } catch (error) {
    // A page that could not load says so, instead of leaving the last one on screen.
    fill(view, h("h1", {}, error.status === 401 ? "Please sign in" : "This page could not be loaded"),
      liveStatus(error.status === 401 ? "Sign in to see this page." : error.message || "Try again in a moment.", "error"),
      h("p", {}, h("a", { href: error.status === 401 ? "#/sign-in" : "#/" }, error.status === 401 ? "Sign in" : "Back to the directory")));
  }
  if (mine !== routes) return;
  document.title = `${main.querySelector("h1")?.textContent || "Advisor Platform"} · Advisor Platform`;
  main.dataset.ready = location.hash || "#/";
  // Measured only with the person's consent, never under DNT or GPC: otherwise its script is never even loaded.
  if (counted && storedChoice()?.performance) {
    import("./measure.js").then((measure) => measure.pageView(name, performance.now() - started)).catch(() => {});
  }
}

// The skip link moves to the content; followed as a fragment it would be taken for a route.
document.querySelector("a.skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", async () => {
  await route();
  // The policy prompt, when it asks, keeps the focus it took.
  if (document.getElementById("policy-prompt").hidden) main.focus();
});

await app.refresh();
if (!storedChoice()) openBanner();
await route();
