// The pages. Each view takes the <main> element and the app's shared state, fills it, and
// returns nothing; data comes from the public API only.
import { api, Problem, problemText } from "./api.js";
import { sendChoice, storedChoice, saveChoice, declinesTracking } from "./consent.js";
import { h, fill, liveStatus, money, sayAfterRedraw, status, submitting } from "./dom.js";
import * as stream from "./stream.js";
import { startChat } from "./chat.js";

const statusNames = { online: "Online", busy: "In a chat", offline: "Offline" };

/** An advisor's status; `advisorId` lets a live change find it (`showStatus`). */
function statusBadge(value, advisorId) {
  return h("span", { class: `badge ${value}`, "data-advisor-status": advisorId }, statusNames[value] || value);
}

/** Shows a status change pushed by the stream wherever that advisor's badge is on the page. */
export function showStatus(advisorId, value) {
  for (const badge of document.querySelectorAll("[data-advisor-status]")) {
    if (badge.dataset.advisorStatus !== advisorId) continue;
    badge.className = `badge ${value}`;
    badge.textContent = statusNames[value] || value;
  }
  // On the advisor's own page a member can ask for a chat while they are online, and only then.
  const slot = document.getElementById("chat-slot");
  if (slot && shownAdvisor?.id === advisorId) fill(slot, value === "online" ? chatButton(shownAdvisor) : null);
}

/** The advisor whose page is on screen, for its chat button. */
let shownAdvisor = null;

function stars(rating, count) {
  if (!count) return h("span", { class: "rating" }, "No reviews yet");
  return h("span", { class: "rating" }, `★ ${rating.toFixed(1)} (${count} review${count === 1 ? "" : "s"})`);
}

/**
 * What a signed-in page shows, from `load()`; null, with the reason on the page, when no one is
 * signed in or the platform could not answer.
 */
async function loadSignedIn(main, app, title, load) {
  if (!app.account) {
    fill(main, h("h1", {}, title), h("p", {}, h("a", { href: "#/sign-in" }, "Sign in"), " to see this page."));
    return null;
  }
  fill(main, liveStatus("Loading…"));
  try {
    return await load();
  } catch (error) {
    fill(main, h("h1", {}, title), liveStatus(problemText(error), "error"));
    return null;
  }
}

// MARK: Directory

/** The directory: search as you type, a category filter with counts, sorting. */
export async function directory(main, app) {
  const remembered = storedChoice()?.functionality ? sessionStorage.getItem("last-search") || "" : "";
  const search = h("input", { type: "search", id: "search", name: "q", value: remembered,
    placeholder: "Tarot, astrology, career…", "aria-describedby": "result-count" });
  const category = h("select", { id: "category", name: "category" }, h("option", { value: "" }, "All categories"));
  const online = h("select", { id: "status", name: "status" },
    h("option", { value: "" }, "Anyone"), h("option", { value: "online" }, "Online now"), h("option", { value: "offline" }, "Offline"));
  const sort = h("select", { id: "sort", name: "sort" },
    h("option", { value: "" }, "Best match"), h("option", { value: "rating" }, "Rating"),
    h("option", { value: "price" }, "Lowest price"), h("option", { value: "reviews" }, "Most reviews"));
  const count = h("p", { id: "result-count", class: "count", role: "status" });
  const results = h("ul", { id: "results", class: "cards" });
  const moreMessage = h("span", { id: "more-message", "aria-live": "polite" });
  const more = h("button", { type: "button", id: "more-advisors", hidden: true }, "Show more advisors");
  fill(main,
    h("h1", {}, "Find an advisor"),
    h("form", { class: "filters", role: "search", onsubmit: (event) => event.preventDefault() },
      h("label", { for: "search" }, "Search advisors"), search,
      h("label", { for: "category" }, "Category"), category,
      h("label", { for: "status" }, "Status"), online,
      h("label", { for: "sort" }, "Sort by"), sort),
    count, results, h("p", {}, more, " ", moreMessage));

  let categories = [];
  try {
    categories = await api("GET", "/v1/categories");
  } catch {}

  let inFlight = null;
  let timer = null;
  let keystrokeAt = null;
  // The advisors on screen, the search they answer and where it goes on: "Show more" walks its pages.
  let shown = [];
  let asked = null;
  let nextCursor = null;
  const load = async () => {
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    const query = new URLSearchParams({ limit: "30", facets: "category" });
    const text = search.value.trim().slice(0, 100);
    if (text) query.set("q", text);
    if (category.value) query.set("category", category.value);
    if (online.value) query.set("status", online.value);
    if (sort.value) query.set("sort", sort.value);
    if (storedChoice()?.functionality) sessionStorage.setItem("last-search", text);
    const started = keystrokeAt ?? performance.now();
    try {
      const page = await api("GET", `/v1/advisors?${query}`, undefined, { signal: controller.signal });
      asked = query;
      shown = page.items;
      renderResults(page);
      stream.watchAdvisors(shown.map((advisor) => advisor.id));
      // What the list shows now, and how long after the keystroke (or the request): read by the browser test.
      results.dataset.query = text;
      results.dataset.searchMs = String(Math.round(performance.now() - started));
      keystrokeAt = null;
    } catch (error) {
      if (error.name === "AbortError") return;
      fill(results);
      fill(count, problemText(error));
    }
  };
  const renderResults = (page) => {
    const counts = page.facets?.category || {};
    const selected = category.value;
    fill(category, h("option", { value: "" }, "All categories"),
      categories.map((c) => h("option", { value: c.slug, selected: c.slug === selected }, `${c.name} (${counts[c.slug] ?? 0})`)));
    fill(results, shown.map(card));
    showCount(page.nextCursor);
  };
  const showCount = (cursor) => {
    nextCursor = cursor ?? null;
    more.hidden = !nextCursor;
    fill(count, shown.length === 0 ? "No advisors match." : `${shown.length}${nextCursor ? "+" : ""} advisors`);
  };
  const card = (advisor) =>
    h("li", { class: "card" },
      h("h2", {}, h("a", { href: `#/advisors/${advisor.id}` }, advisor.displayName)), statusBadge(advisor.status, advisor.id),
      h("p", {}, advisor.headline || ""),
      h("p", { class: "meta" }, stars(advisor.rating ?? 0, advisor.reviewCount), " · ",
        advisor.pricePerMinuteCents ? `${money(advisor.pricePerMinuteCents)}/min` : "", " · ",
        advisor.categories.map((slug) => categories.find((c) => c.slug === slug)?.name || slug).join(", ")));
  more.addEventListener("click", submitting(moreMessage, async () => {
    const search = asked;
    const query = new URLSearchParams(search);
    query.delete("facets");
    query.set("cursor", nextCursor);
    const page = await api("GET", `/v1/advisors?${query}`);
    if (asked !== search) return; // a new search answered meanwhile
    shown = shown.concat(page.items);
    results.append(...page.items.map(card));
    showCount(page.nextCursor);
    stream.watchAdvisors(shown.map((advisor) => advisor.id));
  }));
  // A short pause lets a fast typist's letters go as one request; an older request still
  // under way is cancelled by the next.
  search.addEventListener("input", () => {
    keystrokeAt = performance.now();
    clearTimeout(timer);
    timer = setTimeout(load, 40);
  });
  category.addEventListener("change", load);
  online.addEventListener("change", load);
  sort.addEventListener("change", load);
  await load();
}

// MARK: One advisor

export async function advisor(main, app, id) {
  fill(main, liveStatus("Loading…"));
  let profile;
  try {
    profile = await api("GET", `/v1/advisors/${encodeURIComponent(id)}`);
  } catch (error) {
    fill(main, h("h1", {}, "Advisor"), liveStatus(problemText(error), "error"), h("p", {}, h("a", { href: "#/" }, "Back to the directory")));
    return;
  }
  shownAdvisor = profile;
  // Signed in, the badge and the chat button follow the advisor's comings and goings.
  if (app.account) stream.watchAdvisors([profile.id]);
  fill(main,
    h("p", {}, h("a", { href: "#/" }, "← All advisors")),
    h("h1", {}, profile.displayName, " ", statusBadge(profile.status, profile.id)),
    app.account?.role === "member" ? await favoriteControls(profile.id) : null,
    app.account?.role === "member" ? h("div", { id: "chat-slot" }, profile.status === "online" ? chatButton(profile) : null) : null,
    h("p", { class: "lead" }, profile.headline || ""),
    h("p", { class: "meta" }, stars(profile.rating ?? 0, profile.reviewCount),
      profile.pricePerMinuteCents ? ` · ${money(profile.pricePerMinuteCents)} per minute` : "",
      profile.yearsExperience ? ` · ${profile.yearsExperience} years of experience` : ""),
    h("p", {}, profile.bio || ""),
    h("h2", {}, "Reviews"),
    profile.reviews.length === 0 ? h("p", {}, "No reviews yet.") :
      h("ul", { class: "reviews" }, profile.reviews.map((review) =>
        h("li", {}, h("p", { class: "meta" }, `${"★".repeat(review.rating)} by ${review.author.displayName}`),
          h("p", {}, review.text || ""),
          review.reply ? h("p", { class: "reply" }, `${profile.displayName} replied: ${review.reply.text}`) : null))));
}

/** "Start a chat", for a member on an online advisor's page. */
function chatButton(profile) {
  const message = h("span", { id: "start-chat-message", "aria-live": "polite" });
  return h("p", { id: "chat-button" }, h("button", { type: "button", id: "start-chat", onclick: submitting(message, () => startChat(profile.id)) },
    `Start a chat (${money(profile.pricePerMinuteCents)} a minute)`), " ", message);
}

/** A member's favorite toggle and "tell me when they come online", for one advisor. */
async function favoriteControls(advisorId) {
  const message = h("span", { id: "favorite-message", role: "status" });
  let favorite = null;
  try {
    favorite = (await api("GET", "/v1/me/favorites?limit=100")).items?.find((entry) => entry.advisor.id === advisorId) ?? null;
  } catch {}
  const isFavorite = h("input", { type: "checkbox", id: "favorite", checked: favorite !== null });
  const notify = h("input", { type: "checkbox", id: "notify-online", checked: favorite?.notifyWhenOnline ?? false });
  // Both boxes wait while one is saved: two calls under way at once could land in either order.
  const save = submitting(message, async () => {
    isFavorite.disabled = notify.disabled = true;
    try {
      if (isFavorite.checked || notify.checked) {
        isFavorite.checked = true;
        await api("PUT", `/v1/me/favorites/${advisorId}`, { notifyWhenOnline: notify.checked });
      } else {
        await api("DELETE", `/v1/me/favorites/${advisorId}`);
      }
    } finally {
      isFavorite.disabled = notify.disabled = false;
    }
    fill(message, isFavorite.checked ? " Saved to your favorites." : " Removed from your favorites.");
  });
  isFavorite.addEventListener("change", (event) => {
    if (!isFavorite.checked) notify.checked = false;
    save(event);
  });
  notify.addEventListener("change", save);
  return h("p", { class: "favorite" }, isFavorite, " ", h("label", { for: "favorite" }, "Favorite"), " ",
    notify, " ", h("label", { for: "notify-online" }, "Tell me when they come online"), message);
}

// MARK: Joining and signing in

export async function join(main, app) {
  let policy;
  try {
    policy = await api("GET", "/v1/privacy/policy");
  } catch (error) {
    fill(main, h("h1", {}, "Join"), liveStatus(problemText(error), "error"));
    return;
  }
  const message = h("div", { id: "join-message", "aria-live": "polite" });
  fill(main,
    h("h1", {}, "Join the Advisor Platform"),
    h("form", { id: "join-form", class: "stack", onsubmit: submitting(message, async (form) => {
        await api("POST", "/v1/accounts", {
          email: form.email, password: form.password, displayName: form.displayName, role: form.role,
          acceptPolicyVersion: policy.version, marketingEmailOptIn: form.marketingEmail === "on",
        });
        // The account exists from here on: a failure now must not invite joining again.
        try {
          await api("POST", "/v1/sessions", { email: form.email, password: form.password });
        } catch {
          location.hash = "#/sign-in";
          return;
        }
        await keepChoice();
        await app.refresh();
        location.hash = "#/privacy";
      }) },
      h("label", { for: "join-name" }, "Name shown to others"),
      h("input", { id: "join-name", name: "displayName", required: true, maxlength: 60, autocomplete: "nickname" }),
      h("label", { for: "join-email" }, "Email"),
      h("input", { id: "join-email", name: "email", type: "email", required: true, autocomplete: "email" }),
      h("label", { for: "join-password" }, "Password (at least 10 characters)"),
      h("input", { id: "join-password", name: "password", type: "password", required: true, minlength: 10, autocomplete: "new-password" }),
      h("fieldset", {}, h("legend", {}, "I am joining as"),
        h("p", {}, h("input", { type: "radio", id: "role-member", name: "role", value: "member", checked: true }), " ",
          h("label", { for: "role-member" }, "a member, to talk to advisors")),
        h("p", {}, h("input", { type: "radio", id: "role-advisor", name: "role", value: "advisor" }), " ",
          h("label", { for: "role-advisor" }, "an advisor, to offer readings"))),
      h("section", { class: "policy", "aria-labelledby": "policy-title" },
        h("h2", { id: "policy-title" }, "Our privacy policy"),
        h("p", {}, `Version ${policy.version}, in effect since ${policy.effectiveDate}. It says what we collect, why, who sees it, how long we keep it, and your rights: to see, export and delete your data, and to withdraw any consent.`)),
      h("p", {}, h("input", { type: "checkbox", id: "join-accept", name: "accept", required: true }), " ",
        h("label", { for: "join-accept" }, `I have read and accept privacy policy version ${policy.version}`)),
      h("p", {}, h("input", { type: "checkbox", id: "join-marketing", name: "marketingEmail" }), " ",
        h("label", { for: "join-marketing" }, "Send me offers by email (optional; you can stop them at any time)")),
      h("button", { type: "submit" }, "Create my account")),
    message);
}

/** The banner's choice as the new session's consents: worth trying, not worth failing a sign-in over (the privacy center sets them too). */
async function keepChoice() {
  try {
    await sendChoice();
  } catch {}
}

export function signIn(main, app) {
  const message = h("div", { id: "sign-in-message", "aria-live": "polite" });
  fill(main,
    h("h1", {}, "Sign in"),
    h("form", { id: "sign-in-form", class: "stack", onsubmit: submitting(message, async (form) => {
        await api("POST", "/v1/sessions", { email: form.email, password: form.password });
        await keepChoice();
        await app.refresh();
        location.hash = "#/";
      }) },
      h("label", { for: "sign-in-email" }, "Email"),
      h("input", { id: "sign-in-email", name: "email", type: "email", required: true, autocomplete: "email" }),
      h("label", { for: "sign-in-password" }, "Password"),
      h("input", { id: "sign-in-password", name: "password", type: "password", required: true, autocomplete: "current-password" }),
      h("button", { type: "submit" }, "Sign in")),
    message,
    h("p", {}, "New here? ", h("a", { href: "#/join" }, "Join")));
}

// MARK: Privacy center

export async function privacy(main, app) {
  const loaded = await loadSignedIn(main, app, "Privacy center", () => Promise.all([api("GET", "/v1/me/consents"),
    api("GET", "/v1/me/sign-ins"), api("GET", "/v1/me/consents/history"), api("GET", "/v1/me/access-log")]));
  if (!loaded) return;
  const [consents, signIns, history, accesses] = loaded;
  const account = app.account;
  const message = h("div", { id: "privacy-message", "aria-live": "polite" });
  const toggle = (id, label, checked, disabled = false) =>
    h("p", {}, h("input", { type: "checkbox", id, name: id, checked, disabled }), " ", h("label", { for: id }, label));
  const tracking = declinesTracking();
  fill(main,
    h("h1", {}, "Privacy center"),
    h("section", { "aria-labelledby": "profile-title" },
      h("h2", { id: "profile-title" }, "Your profile"),
      h("dl", { id: "profile" },
        h("dt", {}, "Name"), h("dd", {}, account.displayName),
        h("dt", {}, "Email"), h("dd", { id: "profile-email" }, account.email),
        h("dt", {}, "Role"), h("dd", {}, account.role),
        h("dt", {}, "Policy accepted"), h("dd", {}, account.policyVersion || "—"))),
    h("section", { "aria-labelledby": "consents-title" },
      h("h2", { id: "consents-title" }, "Your consents"),
      h("form", { id: "consents-form", class: "stack", onsubmit: submitting(message, async (_, form) => {
          await api("PUT", "/v1/me/consents", {
            performanceCookies: form.performanceCookies.checked && !tracking,
            functionalityCookies: form.functionalityCookies.checked,
            marketingEmail: form.marketingEmail.checked, marketingSms: form.marketingSms.checked,
          });
          await saveChoice({ performance: form.performanceCookies.checked, functionality: form.functionalityCookies.checked }, false);
          fill(message, status("Your choices are saved."));
        }) },
        toggle("performanceCookies", "Performance cookies", consents.performanceCookies, tracking),
        toggle("functionalityCookies", "Functionality cookies", consents.functionalityCookies),
        toggle("marketingEmail", "Offers by email", consents.marketingEmail),
        toggle("marketingSms", "Offers by text message", consents.marketingSms),
        h("button", { type: "submit" }, "Save consents"))),
    message,
    h("section", { "aria-labelledby": "sign-ins-title" },
      h("h2", { id: "sign-ins-title" }, "Recent sign-ins"),
      h("ul", { id: "sign-ins" }, (signIns.items || signIns).slice(0, 10).map((entry) =>
        h("li", {}, `${new Date(entry.at).toLocaleString()} · ${entry.ipAddress || "unknown address"} · ${entry.succeeded ? "signed in" : "failed attempt"}`)))),
    h("section", { "aria-labelledby": "history-title" },
      h("h2", { id: "history-title" }, "Your consents over time"),
      h("ul", { id: "consent-history" }, (history.items || history).slice(0, 20).map((change) =>
        h("li", {}, `${new Date(change.changedAt).toLocaleString()} · ${change.consent} ${change.granted ? "given" : "withdrawn"} (${change.source}, policy ${change.policyVersion})`)))),
    h("section", { "aria-labelledby": "access-title" },
      h("h2", { id: "access-title" }, "Who accessed your data"),
      (accesses.items || accesses).length === 0 ? h("p", { id: "access-log" }, "No one on our staff and no partner has accessed your data.") :
        h("ul", { id: "access-log" }, (accesses.items || accesses).slice(0, 20).map((entry) =>
          h("li", {}, `${new Date(entry.at).toLocaleString()} · ${entry.partnerId ? `partner ${entry.partnerId} (${entry.reads} reads)` : `staff (${entry.staffRoles.join(", ") || "the platform"})`} · ${entry.action}${entry.reason ? ` · reason: ${entry.reason}` : ""}`)))),
    h("section", { "aria-labelledby": "export-title" },
      h("h2", { id: "export-title" }, "Download your data"),
      h("p", {}, "Everything the platform holds about you, from every service, as one JSON file."),
      h("p", {}, h("a", { id: "export-link", class: "button", href: "/v1/me/export", download: "my-advisor-platform-data.json" }, "Download my data"))),
    h("section", { "aria-labelledby": "delete-title" },
      h("h2", { id: "delete-title" }, "Delete your account"),
      h("p", {}, "Your account and personal data are erased in every service. This cannot be undone."),
      h("form", { id: "delete-form", class: "stack", onsubmit: submitting(message, async (form) => {
          await api("DELETE", "/v1/me", { password: form.password });
          await app.refresh();
          fill(main, h("h1", {}, "Your account is deleted"), liveStatus("Your account and your personal data are being erased everywhere."));
        }) },
        h("label", { for: "delete-password" }, "Your password, to confirm"),
        h("input", { id: "delete-password", name: "password", type: "password", required: true, autocomplete: "current-password" }),
        h("button", { type: "submit", class: "danger" }, "Delete my account"))));
}

// MARK: Message boards

const publicNotice = "Posts on the message boards are public: anyone can read, copy and use them.";

/** The part of a posting form that states the notice; the box is required until a first post. */
function noticeField(app) {
  if (app.postedOnBoards) return h("p", { class: "hint" }, publicNotice);
  return h("p", { class: "policy" },
    h("input", { type: "checkbox", id: "acknowledge-public", name: "acknowledgePublic", required: true }), " ",
    h("label", { for: "acknowledge-public" }, `${publicNotice} I understand.`));
}

async function boardsPost(app, path, body) {
  const answer = await api("POST", path, app.postedOnBoards ? body : { ...body, acknowledgePublic: true });
  app.postedOnBoards = true;
  return answer;
}

export async function boards(main, app) {
  fill(main, liveStatus("Loading…"));
  try {
    const { boards } = await api("GET", "/v1/boards");
    const found = h("ul", { id: "board-results" });
    const searchMessage = h("div", { id: "board-search-message", "aria-live": "polite" });
    fill(main, h("h1", {}, "Message boards"), h("p", {}, publicNotice),
      h("form", { id: "board-search", class: "filters", role: "search", onsubmit: submitting(searchMessage, async (form) => {
          const page = await api("GET", `/v1/boards/search?q=${encodeURIComponent(form.q.slice(0, 200))}&limit=20`);
          fill(found, page.items.map((match) =>
            h("li", {}, h("a", { href: `#/threads/${match.thread.id}` }, match.thread.title),
              match.post?.text ? ` · “${match.post.text.slice(0, 120)}”` : "")));
          // Said in the live region too, so a screen reader hears what the search found.
          fill(searchMessage, status(page.items.length === 0 ? "Nothing found." : `${page.items.length}${page.nextCursor ? "+" : ""} found.`));
        }) },
        h("label", { for: "board-q" }, "Search the boards"), h("input", { type: "search", id: "board-q", name: "q", required: true, maxlength: 200 }),
        h("button", { type: "submit" }, "Search")),
      searchMessage, found,
      h("ul", { class: "cards", id: "boards" }, boards.map((board) =>
        h("li", { class: "card" }, h("h2", {}, h("a", { href: `#/boards/${board.slug}` }, board.name)),
          h("p", {}, board.description), h("p", { class: "meta" }, `${board.threadCount} threads`)))));
  } catch (error) {
    fill(main, h("h1", {}, "Message boards"), liveStatus(problemText(error), "error"));
  }
}

export async function board(main, app, slug) {
  fill(main, liveStatus("Loading…"));
  let page, boards;
  try {
    [page, { boards }] = await Promise.all([api("GET", `/v1/boards/${encodeURIComponent(slug)}/threads?limit=50`), api("GET", "/v1/boards")]);
  } catch (error) {
    fill(main, h("h1", {}, "Board"), liveStatus(problemText(error), "error"));
    return;
  }
  const about = boards.find((entry) => entry.slug === slug);
  // On an advisors' board members reply to threads; only advisors start them.
  const mayStart = app.account && !(about?.advisorsOnly && app.account.role !== "advisor");
  const message = h("div", { id: "thread-message", "aria-live": "polite" });
  fill(main,
    h("p", {}, h("a", { href: "#/boards" }, "← All boards")),
    h("h1", {}, about?.name || slug),
    about?.description ? h("p", { class: "lead" }, about.description) : null,
    h("ul", { id: "threads" }, page.items.map((thread) =>
      h("li", {}, h("a", { href: `#/threads/${thread.id}` }, thread.title),
        h("span", { class: "meta" }, ` · ${thread.author.displayName} · ${thread.replyCount} replies`)))),
    mayStart ? h("section", { "aria-labelledby": "new-thread-title" },
      h("h2", { id: "new-thread-title" }, "Start a thread"),
      h("form", { id: "new-thread-form", class: "stack", onsubmit: submitting(message, async (form) => {
          const started = await boardsPost(app, `/v1/boards/${encodeURIComponent(slug)}/threads`, { title: form.title, text: form.text });
          location.hash = `#/threads/${started.id}`;
        }) },
        h("label", { for: "thread-title" }, "Title"),
        h("input", { id: "thread-title", name: "title", required: true, minlength: 3, maxlength: 150 }),
        h("label", { for: "thread-text" }, "What you want to say"),
        h("textarea", { id: "thread-text", name: "text", required: true, maxlength: 10000, rows: 5 }),
        noticeField(app),
        h("button", { type: "submit" }, "Post the thread")), message)
      : app.account ? h("p", {}, "Advisors start threads here; reply to one of them.")
      : h("p", {}, h("a", { href: "#/sign-in" }, "Sign in"), " to write."));
}

/**
 * A list's items, its pages walked to the end (`nextCursor`), up to `most` of them: a thread
 * shows whole, its newest replies (one's own just posted) included.
 */
async function everyPage(path, most = 20) {
  let items = [];
  let cursor = null;
  for (let pages = 0; pages < most && (pages === 0 || cursor); pages += 1) {
    const page = await api("GET", cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : path);
    items = items.concat(page.items);
    cursor = page.nextCursor;
  }
  return items;
}

export async function thread(main, app, id) {
  fill(main, liveStatus("Loading…"));
  let topic, posts;
  try {
    [topic, posts] = await Promise.all([api("GET", `/v1/threads/${encodeURIComponent(id)}`),
      everyPage(`/v1/threads/${encodeURIComponent(id)}/posts?limit=100`)]);
  } catch (error) {
    fill(main, h("h1", {}, "Thread"), liveStatus(problemText(error), "error"));
    return;
  }
  const message = h("div", { id: "post-message", "aria-live": "polite" });
  // One's own post: edited in place (the earlier text is kept for moderators) or deleted.
  const ownPostControls = (post) => h("form", { class: "own-post", onsubmit: submitting(message, async (form) => {
      await api("PATCH", `/v1/posts/${post.id}`, { text: form.text });
      await thread(main, app, id);
    }) },
    h("label", { for: `edit-${post.id}` }, "Edit your post"),
    h("textarea", { id: `edit-${post.id}`, name: "text", required: true, maxlength: 10000, rows: 2 }, post.text || ""),
    h("button", { type: "submit" }, "Save"), " ",
    h("button", { type: "button", class: "danger", onclick: submitting(message, async () => {
      await api("DELETE", `/v1/posts/${post.id}`);
      await thread(main, app, id);
    }) }, "Delete"));
  const flag = (post) => h("button", { type: "button", class: "link", "aria-label": `Report the post by ${post.author.displayName}`,
    onclick: submitting(message, async () => {
      await api("POST", `/v1/posts/${post.id}/flags`, { reason: "abuse" });
      fill(message, status("Thank you: the moderators will look at it."));
    }) }, "Report");
  fill(main,
    h("p", {}, h("a", { href: `#/boards/${topic.board}` }, "← Back to the board")),
    h("h1", {}, topic.title),
    h("ol", { id: "posts", class: "posts" }, posts.map((post) =>
      h("li", {}, h("p", { class: "meta" }, `${post.author.displayName} · ${new Date(post.createdAt).toLocaleString()}`),
        h("p", { class: "post-text", id: `post-${post.id}` }, post.deleted ? "(deleted)" : post.text || ""),
        // Only its author sees a hidden or held post, and is told why no one else does.
        post.moderation ? status(post.moderation.status === "held"
          ? `Only you can see this post: it waits for a moderator${post.moderation.reason ? ` (${post.moderation.reason})` : ""}.`
          : `Only you can see this post: a moderator hid it${post.moderation.reason ? `: ${post.moderation.reason}` : "."}`, "error") : null,
        app.account && !post.deleted && post.author.id !== app.account.id ? flag(post) : null,
        app.account && !post.deleted && post.author.id === app.account.id && !topic.locked ? ownPostControls(post) : null))),
    topic.locked ? h("p", {}, "This thread is locked.") : app.account ? h("form", { id: "reply-form", class: "stack", onsubmit: submitting(message, async (form) => {
        await boardsPost(app, `/v1/threads/${encodeURIComponent(id)}/posts`, { text: form.text });
        await thread(main, app, id);
      }) },
      h("label", { for: "reply-text" }, "Reply"),
      h("textarea", { id: "reply-text", name: "text", required: true, maxlength: 10000, rows: 4 }),
      noticeField(app),
      h("button", { type: "submit" }, "Post the reply")) : h("p", {}, h("a", { href: "#/sign-in" }, "Sign in"), " to reply."),
    message);
}

// MARK: Notifications

export async function inbox(main, app) {
  const page = await loadSignedIn(main, app, "Inbox", () => api("GET", "/v1/me/notifications?limit=50"));
  if (!page) return;
  const message = h("div", { id: "inbox-message", "aria-live": "polite" });
  const link = (notice) => notice.subject?.threadId ? `#/threads/${notice.subject.threadId}`
    : notice.subject?.advisorId ? `#/advisors/${notice.subject.advisorId}` : null;
  fill(main,
    h("h1", {}, "Inbox"),
    h("p", {}, h("a", { href: "#/notification-settings" }, "Notification settings")),
    page.items.length === 0 ? h("p", { id: "inbox-empty" }, "Nothing yet.") :
      h("ul", { id: "notifications", class: "notices" }, page.items.map((notice) =>
        h("li", { class: notice.readAt ? "read" : "unread" },
          h("p", {}, link(notice) ? h("a", { href: link(notice), onclick: () => markRead(notice, app) }, notice.text) : notice.text),
          h("p", { class: "meta" }, `${new Date(notice.createdAt).toLocaleString()}${notice.readAt ? "" : " · new"}`)))),
    page.items.some((notice) => !notice.readAt) ? h("button", { type: "button", id: "mark-all-read", onclick: submitting(message, async () => {
      await api("POST", "/v1/me/notifications/read", { all: true });
      await app.refresh();
      await inbox(main, app);
    }) }, "Mark all as read") : null,
    message);
}

/** A notice followed to what it is about is read: told to the platform on the way (the nav's count follows). */
function markRead(notice, app) {
  if (notice.readAt) return;
  api("POST", "/v1/me/notifications/read", { ids: [notice.id] }).then(() => app.unreadChanged(-1)).catch(() => {});
}

const channelNames = { inApp: "In the app", email: "Email", sms: "Text message" };
const kindNames = {
  board_reply: "Replies on the boards", chat_request: "Chat requests", favorite_online: "A favorite comes online",
  low_balance: "Low balance", payout_sent: "Payouts sent", policy_changed: "Privacy policy changes", refund_decided: "Refund decisions",
  review_received: "New reviews", security_notice: "Security notices", top_up_receipt: "Top-up receipts",
};

export async function notificationSettings(main, app) {
  let settings = await loadSignedIn(main, app, "Notification settings", () => api("GET", "/v1/me/notification-settings"));
  if (!settings) return;
  const message = h("div", { id: "settings-message", "aria-live": "polite" });
  const quiet = settings.quietHours;
  const zone = quiet?.timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  fill(main,
    h("h1", {}, "Notification settings"),
    h("form", { id: "settings-form", class: "stack", onsubmit: submitting(message, async (values, form) => {
        const kinds = settings.kinds.map((entry) => ({ kind: entry.kind, channels: Object.fromEntries(
          Object.keys(entry.channels).map((channel) => [channel, form.elements[`${entry.kind}:${channel}`].checked])) }));
        const body = { kinds };
        if (values.quietStart && values.quietEnd) body.quietHours = { start: values.quietStart, end: values.quietEnd, timeZone: zone };
        settings = await api("PUT", "/v1/me/notification-settings", body);
        fill(message, status("Your settings are saved."));
      }) },
      settings.kinds.map((entry) => h("fieldset", {}, h("legend", {}, kindNames[entry.kind] || entry.kind.replaceAll("_", " ")),
        Object.entries(entry.channels).map(([channel, on]) => {
          const id = `${entry.kind}:${channel}`;
          // Sent whatever the settings say: shown on, and not to be turned off.
          const fixed = (entry.required || []).includes(channel);
          return h("p", {}, h("input", { type: "checkbox", id, name: id, checked: on || fixed, disabled: fixed }), " ",
            h("label", { for: id }, channelNames[channel] || channel, fixed ? " (always on)" : ""));
        }))),
      h("fieldset", {}, h("legend", {}, `Quiet hours (${zone}): no texts or emails between`),
        h("label", { for: "quiet-start" }, "From"), h("input", { type: "time", id: "quiet-start", name: "quietStart", value: quiet?.start || "" }),
        h("label", { for: "quiet-end" }, "Until"), h("input", { type: "time", id: "quiet-end", name: "quietEnd", value: quiet?.end || "" })),
      h("button", { type: "submit" }, "Save settings")),
    message);
}

// MARK: Money

/**
 * Sends a card to the payment processor (never to the platform) and answers its one-use token.
 * The processor's address comes from the page (`<meta name="processor-url">`, set by the gateway).
 */
async function tokenizeCard(card) {
  const processor = document.querySelector('meta[name="processor-url"]')?.content;
  if (!processor) throw new Error("Cards cannot be added here: no payment processor is configured.");
  const response = await fetch(`${processor}/v1/tokens`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(card), credentials: "omit",
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new Error(answer?.error?.message || "The card was not accepted.");
  return answer.id;
}

export async function wallet(main, app) {
  if (app.account && app.account.role !== "member") {
    fill(main, h("h1", {}, "Wallet"), h("p", {}, "The wallet is for members."));
    return;
  }
  const loaded = await loadSignedIn(main, app, "Wallet", () => Promise.all([api("GET", "/v1/me/wallet"),
    api("GET", "/v1/me/payment-methods"), api("GET", "/v1/me/statement?limit=20")]));
  if (!loaded) return;
  const [balance, cards, statement] = loaded;
  const message = h("div", { id: "wallet-message", "aria-live": "polite" });
  // One key for this page's top-up until it is answered: a retry after a lost answer is charged once.
  let topUpKey = crypto.randomUUID();
  const year = new Date().getFullYear();
  const cardName = (card) => `${card.brand} ending ${card.last4} (${String(card.expMonth).padStart(2, "0")}/${card.expYear})`;
  fill(main,
    h("h1", {}, "Wallet"),
    h("p", { class: "lead" }, "Available: ", h("strong", { id: "wallet-available" }, money(balance.availableCents)),
      balance.heldCents ? ` (${money(balance.heldCents)} held for a chat)` : "",
      balance.freeChatsLeft ? ` · ${balance.freeChatsLeft} free chat${balance.freeChatsLeft === 1 ? "" : "s"} left` : ""),
    h("section", { "aria-labelledby": "top-up-title" },
      h("h2", { id: "top-up-title" }, "Add funds"),
      cards.items.length === 0 ? h("p", {}, "Add a card first.") :
        h("form", { id: "top-up-form", class: "stack", onsubmit: submitting(message, async (form) => {
            // One key per attempt: a retry after a lost answer (no answer, 5xx, or the key still in
            // use) is charged once; a definite answer, a decline too, ends the attempt.
            let answer;
            try {
              answer = await api("POST", "/v1/me/top-ups",
                { amountCents: Number(form.amountCents), paymentMethodId: form.paymentMethodId },
                { headers: { "Idempotency-Key": topUpKey } });
            } catch (error) {
              if (error instanceof Problem && error.status < 500 && error.code !== "idempotency_key_in_use") topUpKey = crypto.randomUUID();
              throw error;
            }
            topUpKey = crypto.randomUUID();
            await wallet(main, app);
            sayAfterRedraw(document.getElementById("wallet-message"),
              status(answer.status === "succeeded" ? `${money(answer.amountCents)} added.` : "The payment is being confirmed."));
          }) },
          h("label", { for: "top-up-amount" }, "Amount"),
          h("select", { id: "top-up-amount", name: "amountCents" }, [1000, 2000, 5000, 10000].map((cents) =>
            h("option", { value: cents, selected: cents === 2000 }, money(cents)))),
          h("label", { for: "top-up-card" }, "Card"),
          h("select", { id: "top-up-card", name: "paymentMethodId" }, cards.items.map((card) => h("option", { value: card.id }, cardName(card)))),
          h("button", { type: "submit" }, "Add funds"))),
    message,
    cards.items.length === 0 ? null : h("section", { "aria-labelledby": "reload-title" },
      h("h2", { id: "reload-title" }, "Auto-reload"),
      h("form", { id: "reload-form", class: "stack", onsubmit: submitting(message, async (form, element) => {
          await api("PUT", "/v1/me/wallet/auto-reload", { enabled: element.enabled.checked,
            thresholdCents: Number(form.thresholdCents), amountCents: Number(form.amountCents), paymentMethodId: form.paymentMethodId });
          fill(message, status(element.enabled.checked ? "Auto-reload is on." : "Auto-reload is off."));
        }) },
        h("p", {}, h("input", { type: "checkbox", id: "reload-enabled", name: "enabled", checked: balance.autoReload?.enabled }), " ",
          h("label", { for: "reload-enabled" }, "Top up by itself when the balance runs low")),
        h("label", { for: "reload-threshold" }, "When the balance drops below"),
        h("select", { id: "reload-threshold", name: "thresholdCents" }, [500, 1000, 2000].map((cents) =>
          h("option", { value: cents, selected: cents === (balance.autoReload?.thresholdCents || 500) }, money(cents)))),
        h("label", { for: "reload-amount" }, "Add"),
        h("select", { id: "reload-amount", name: "amountCents" }, [1000, 2000, 5000].map((cents) =>
          h("option", { value: cents, selected: cents === (balance.autoReload?.amountCents || 2000) }, money(cents)))),
        h("label", { for: "reload-card" }, "From the card"),
        h("select", { id: "reload-card", name: "paymentMethodId" }, cards.items.map((card) =>
          h("option", { value: card.id, selected: card.id === balance.autoReload?.paymentMethodId }, cardName(card)))),
        h("button", { type: "submit" }, "Save auto-reload"))),
    h("section", { "aria-labelledby": "cards-title" },
      h("h2", { id: "cards-title" }, "Cards"),
      h("ul", { id: "cards" }, cards.items.map((card) => h("li", {}, cardName(card)))),
      h("form", { id: "card-form", class: "stack", onsubmit: submitting(message, async (form) => {
          const processorToken = await tokenizeCard({
            number: form.number, expMonth: Number(form.expMonth), expYear: Number(form.expYear), cvc: form.cvc });
          await api("POST", "/v1/me/payment-methods", { processorToken });
          await wallet(main, app);
        }) },
        h("p", { class: "hint" }, "Your card number goes straight to our payment processor; we keep only its reference."),
        h("label", { for: "card-number" }, "Card number"),
        h("input", { id: "card-number", name: "number", inputmode: "numeric", autocomplete: "cc-number", required: true, maxlength: 23 }),
        h("label", { for: "card-month" }, "Expiry month"),
        h("input", { id: "card-month", name: "expMonth", type: "number", min: 1, max: 12, autocomplete: "cc-exp-month", required: true }),
        h("label", { for: "card-year" }, "Expiry year"),
        h("input", { id: "card-year", name: "expYear", type: "number", min: year, max: year + 30, autocomplete: "cc-exp-year", required: true }),
        h("label", { for: "card-cvc" }, "Security code"),
        h("input", { id: "card-cvc", name: "cvc", inputmode: "numeric", autocomplete: "cc-csc", required: true, maxlength: 4 }),
        h("button", { type: "submit" }, "Add the card"))),
    h("section", { "aria-labelledby": "statement-title" },
      h("h2", { id: "statement-title" }, "Statement"),
      statement.items.length === 0 ? h("p", {}, "Nothing yet.") :
        h("ul", { id: "statement" }, statement.items.map((line) =>
          h("li", {}, `${new Date(line.at).toLocaleString()} · ${line.kind} · ${money(line.amountCents)} · balance ${money(line.balanceAfterCents)}`)))));
}

// MARK: Staff

const staffRoles = ["support", "moderator", "finance", "legal", "admin"];

/** Whether `account` holds any staff role (the Staff page is theirs). */
export function isStaff(account) {
  return account?.roles?.some((role) => staffRoles.includes(role)) ?? false;
}

/** Staff work: the moderation queue (moderators, admins) and account lookup with a stated reason (support, legal, admins). */
export async function staff(main, app) {
  const roles = app.account?.roles || [];
  if (!isStaff(app.account)) {
    fill(main, h("h1", {}, "Staff"), h("p", {}, "This page is for staff."));
    return;
  }
  const message = h("div", { id: "staff-message", "aria-live": "polite" });
  const sections = [h("h1", {}, "Staff"), message];
  if (roles.includes("moderator") || roles.includes("admin")) {
    const queue = await api("GET", "/v1/staff/moderation/queue?limit=50");
    // Either way the reason is recorded: hide takes the post down; restore publishes a held one,
    // brings a hidden one back, or keeps a flagged one up and clears its flags.
    const decide = (post, action, reason) => submitting(message, async () => {
      if (!reason.reportValidity()) return;
      await api("POST", `/v1/staff/posts/${post.id}/decision`, { action, reason: reason.value });
      await staff(main, app);
      sayAfterRedraw(document.getElementById("staff-message"), status(`Done: ${action}.`));
    });
    sections.push(h("section", { "aria-labelledby": "queue-title" },
      h("h2", { id: "queue-title" }, "Moderation queue"),
      queue.items.length === 0 ? h("p", { id: "queue-empty" }, "Nothing to look at.") :
        h("ul", { id: "queue", class: "notices" }, queue.items.map((entry) => {
          const reason = h("input", { name: "reason", id: `reason-${entry.post.id}`, required: true, maxlength: 500 });
          return h("li", {},
            h("p", {}, h("strong", {}, entry.threadTitle), ` · ${entry.board} · ${entry.flags.length} flag(s): `,
              entry.flags.map((flag) => flag.reason).join(", "), entry.hidden ? " · hidden" : "", entry.held ? " · held for review" : ""),
            h("p", { class: "post-text" }, entry.post.text || "(no text)"),
            h("div", { class: "stack" },
              h("label", { for: `reason-${entry.post.id}` }, "Reason (recorded)"), reason,
              h("p", {},
                entry.hidden ? null : h("button", { type: "button", class: "danger", onclick: decide(entry.post, "hide", reason) }, "Hide"), " ",
                h("button", { type: "button", onclick: decide(entry.post, "restore", reason) },
                  entry.held ? "Publish" : entry.hidden ? "Restore" : "Keep it up (clear the flags)"))));
        }))));
  }
  if (roles.includes("support") || roles.includes("legal") || roles.includes("admin")) {
    const found = h("div", { id: "lookup-result" });
    sections.push(h("section", { "aria-labelledby": "lookup-title" },
      h("h2", { id: "lookup-title" }, "Look up an account"),
      h("p", { class: "hint" }, "The person sees this access, with your reason, in their privacy center."),
      h("form", { id: "lookup-form", class: "stack", onsubmit: submitting(message, async (form) => {
          const account = await api("GET", `/v1/staff/accounts/${encodeURIComponent(form.accountId.trim())}?reason=${encodeURIComponent(form.reason)}`);
          fill(found, h("dl", {}, h("dt", {}, "Name"), h("dd", {}, account.displayName), h("dt", {}, "Email"),
            h("dd", { id: "lookup-email" }, account.email), h("dt", {}, "Role"), h("dd", {}, account.role),
            h("dt", {}, "Joined"), h("dd", {}, new Date(account.createdAt).toLocaleString())));
        }) },
        h("label", { for: "lookup-id" }, "Account id"),
        h("input", { id: "lookup-id", name: "accountId", required: true, maxlength: 36 }),
        h("label", { for: "lookup-reason" }, "Reason"),
        h("input", { id: "lookup-reason", name: "reason", required: true, maxlength: 500 }),
        h("button", { type: "submit" }, "Look up")),
      found));
  }
  fill(main, sections);
}
