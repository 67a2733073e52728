// Performance measurement, what the policy calls performance cookies. app.js loads this file only
// once the person has turned them on and the browser sends neither Do Not Track nor Global Privacy
// Control (consent.js decides): before that, no script of it runs. Each page shown sends its name
// and how long it took to show to POST /v1/page-views, which only adds to counts (docs/api.md);
// the gateway's `perf_visit` cookie, sent to that path alone, tells a visit's first view apart.

/** Tells the platform that `page` was shown, `milliseconds` after it was asked for. */
export function pageView(page, milliseconds) {
  const loadMs = Math.min(120000, Math.max(0, Math.round(milliseconds)));
  fetch("/v1/page-views", {
    method: "POST", keepalive: true,
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ page, loadMs }),
  }).catch(() => {});
}
