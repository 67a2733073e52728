import Foundation
import Hummingbird
import Metrics
import ServiceKit

/// `POST /v1/page-views`: the web client's performance measurement, which a browser sends only
/// once its person turned performance cookies on. What the policy promises of them, "aggregated
/// and anonymous", is all it keeps: a count of views by page, a histogram of how long each page
/// took to show, and a count of visits, on the gateway's `/metrics`; nothing names anyone, and
/// the session a browser sends along is not used. The `perf_visit` cookie marks a visit under
/// way (30 minutes from the last view) so that visits are counted apart from views: it holds no
/// identifier and travels only to this path. A request sending `DNT: 1` or `Sec-GPC: 1` is never
/// counted and gets no cookie, whatever the page chose.
struct PageViewRoutes {
    /// The client's pages, by the names its router gives them: a fixed set, so the metric's
    /// labels stay few whatever a caller sends.
    static let pages: Set<String> = [
        "directory", "advisor", "join", "sign-in", "privacy", "inbox", "notification-settings", "wallet", "chats", "chat",
        "console", "staff", "boards", "board", "thread", "not-found",
    ]
    static let loadMilliseconds = 0...120_000
    static let cookie = "perf_visit"
    static let visitSeconds = 1800

    struct Body: JSONRequestBody {
        var page: String
        var loadMs: Int
        enum CodingKeys: String, CodingKey, CaseIterable { case page, loadMs }
    }

    let secureCookies: Bool

    func register(on router: Router<GatewayRequestContext>) {
        router.post("v1/page-views") { request, context -> Response in
            let body = try await JSONBody.decode(Body.self, from: request)
            var rules = FieldRules()
            if !Self.pages.contains(body.page) { rules.fail("page", "invalid") }
            rules.number(body.loadMs, field: "loadMs", range: Self.loadMilliseconds)
            try rules.check()
            var response = Response(status: .noContent)
            guard !context.doNotTrack else { return response }
            if request.cookies[Self.cookie] == nil { Counter(label: "web_visits_total").increment() }
            Counter(label: "web_page_views_total", dimensions: [("page", body.page)]).increment()
            Metrics.Timer(label: "web_page_load_seconds", dimensions: [("page", body.page)]).recordMilliseconds(body.loadMs)
            if let visit = try? Cookie.validated(
                name: Self.cookie, value: "1", maxAge: Self.visitSeconds, path: "/v1/page-views", secure: secureCookies,
                httpOnly: false, sameSite: .strict)
            {
                response.setCookie(visit)
            }
            return response
        }
    }
}
