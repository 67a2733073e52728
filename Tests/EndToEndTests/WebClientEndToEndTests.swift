import Foundation
import Models
import Testing
import TestSupport

/// The reference web client (Services/WebClient) as the gateway serves it, and in a real browser.
// The browser journey waits out one real minute of a paid chat (the pause when the funds run out).
@Suite(.timeLimit(.minutes(6)))
struct WebClientEndToEndTests {
    static let demoData: [ServiceName: [String: String]] = [
        .directory: ["DIRECTORY_DEMO_DATA": "1"], .boards: ["BOARDS_DEMO_DATA": "1"],
    ]

    static func header(_ reply: Reply, _ name: String) -> String? {
        reply.headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }

    @Test("the client is served at / with a strict CSP and the browser-hardening headers; 304 on a matching ETag; unknown files 404")
    func servedWithHeaders() async throws {
        try await AccountsPlatform.with { platform in
            let page = try await platform.request("GET", "/")
            #expect(page.status == 200)
            #expect(Self.header(page, "Content-Type") == "text/html; charset=utf-8")
            #expect(page.text.contains(#"<script type="module" src="/assets/app.js"></script>"#))
            let policy = try #require(Self.header(page, "Content-Security-Policy"))
            for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"] {
                #expect(policy.contains(directive), "\(policy)")
            }
            #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
            #expect(Self.header(page, "X-Content-Type-Options") == "nosniff")
            #expect(Self.header(page, "Referrer-Policy") == "no-referrer")
            #expect(Self.header(page, "X-Frame-Options") == "DENY")

            let script = try await platform.request("GET", "/assets/app.js")
            #expect(script.status == 200)
            #expect(Self.header(script, "Content-Type") == "text/javascript; charset=utf-8")
            let etag = try #require(Self.header(script, "ETag"))
            let again = try await platform.request("GET", "/assets/app.js", headers: ["If-None-Match": etag])
            #expect(again.status == 304)
            #expect(try await platform.request("GET", "/assets/nothing.js").status == 404)
            #expect(try await platform.request("GET", "/assets/..%2Fassets%2Fapp.js").status == 404)

            // Nothing the client ships writes HTML from text or runs inline code.
            let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Services/WebClient/Public")
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("assets").path) where name.hasSuffix(".js") {
                let source = try String(contentsOf: folder.appendingPathComponent("assets/\(name)"), encoding: .utf8)
                for forbidden in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
                    #expect(!source.contains(forbidden), "\(name) uses \(forbidden)")
                }
            }
        }
    }

    @Test("a page view counts on the gateway's metrics by page, a visit only without the perf_visit cookie, which the answer sets for its own path; DNT or GPC count nothing and get no cookie; a page the client does not have is 422")
    func pageViewsCountAnonymously() async throws {
        try await AccountsPlatform.with { platform in
            let admin = try #require(platform.harness.processes(of: "gateway").first).adminPort
            @Sendable func metric(_ line: String) async -> Double {
                guard let answer = await HTTP.get("http://127.0.0.1:\(admin)/metrics") else { return -1 }
                let found = String(decoding: answer.body, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(line + " ") }
                return found.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            }
            let first = try await platform.request("POST", "/v1/page-views", json: ["page": "directory", "loadMs": 240])
            #expect(first.status == 204, "\(first.text)")
            let cookie = try #require(Self.header(first, "Set-Cookie"))
            #expect(cookie.hasPrefix("perf_visit=1") && cookie.contains("Path=/v1/page-views") && cookie.contains("SameSite=Strict"), "\(cookie)")
            #expect(!cookie.contains("HttpOnly"), "the page deletes it when the consent is withdrawn")
            let second = try await platform.request(
                "POST", "/v1/page-views", json: ["page": "advisor", "loadMs": 80], headers: ["Cookie": "perf_visit=1"])
            #expect(second.status == 204)
            #expect(await metric(#"web_page_views_total{page="directory"}"#) == 1)
            #expect(await metric(#"web_page_views_total{page="advisor"}"#) == 1)
            #expect(await metric("web_visits_total") == 1, "the second view was in the same visit")
            #expect(await metric(#"web_page_load_seconds_count{page="directory"}"#) == 1)

            for signal in ["DNT", "Sec-GPC"] {
                let declined = try await platform.request(
                    "POST", "/v1/page-views", json: ["page": "directory", "loadMs": 100], headers: [signal: "1"])
                #expect(declined.status == 204)
                #expect(Self.header(declined, "Set-Cookie") == nil, "no cookie under \(signal)")
            }
            #expect(await metric(#"web_page_views_total{page="directory"}"#) == 1, "nothing counted under DNT or GPC")
            #expect(await metric("web_visits_total") == 1)

            let unknown = try await platform.request("POST", "/v1/page-views", json: ["page": "../admin", "loadMs": 100])
            #expect(unknown.status == 422 && unknown.text.contains(#""field":"page""#), "\(unknown.text)")
            let slow = try await platform.request("POST", "/v1/page-views", json: ["page": "wallet", "loadMs": 3_600_000])
            #expect(slow.status == 422)
            let extra = try await platform.request("POST", "/v1/page-views", json: ["page": "wallet", "loadMs": 1, "visitor": "x"])
            #expect(extra.status == 422 && extra.text.contains("unknown_field"), "\(extra.text)")
            #expect(await metric(#"web_page_views_total{page="wallet"}"#) == 0, "a refused view counts nothing")
            let crossSite = try await platform.request(
                "POST", "/v1/page-views", json: ["page": "wallet", "loadMs": 1], headers: ["Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"])
            #expect(crossSite.status == 403, "another site's pages cannot add to the counts through a browser")
        }
    }

    @Test("a change a browser sends from another site is refused, with the cookie or signing in; a Bearer token, the site's own page behind a TLS proxy, and non-browsers are not")
    func cookieChangesOnlyFromOwnPages() async throws {
        try await AccountsPlatform.with { platform in
            let email = "csrf-\(UUID().uuidString.prefix(8))@example.com"
            try await platform.register(email: email)
            let signIn = try await platform.request("POST", "/v1/sessions", json: ["email": email, "password": AccountsPlatform.password])
            let token = try #require(signIn.object["token"] as? String)
            let cookie = "session=\(token)"
            let change = ["functionalityCookies": true]
            let crossSite = try await platform.request(
                "PUT", "/v1/me/consents", json: change, headers: ["Cookie": cookie, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"])
            #expect(crossSite.status == 403, "\(crossSite.text)")
            #expect(crossSite.code == "forbidden")
            let sameSiteOtherOrigin = try await platform.request(
                "PUT", "/v1/me/consents", json: change, headers: ["Cookie": cookie, "Origin": "http://other.localhost"])
            #expect(sameSiteOtherOrigin.status == 403)
            #expect((try await platform.request("GET", "/v1/me/consents", token: token)).object["functionalityCookies"] as? Bool == false,
                    "a refused change changed nothing")

            let ownPage = try await platform.request(
                "PUT", "/v1/me/consents", json: change,
                headers: ["Cookie": cookie, "Origin": platform.gateway, "Sec-Fetch-Site": "same-origin"])
            #expect(ownPage.status == 200, "\(ownPage.text)")
            let notABrowser = try await platform.request("PUT", "/v1/me/consents", json: change, headers: ["Cookie": cookie])
            #expect(notABrowser.status == 200)
            // Behind a proxy that ends TLS the page's origin is https while the gateway speaks http.
            let host = try #require(URLComponents(string: platform.gateway)).port.map { "127.0.0.1:\($0)" } ?? ""
            let proxied = try await platform.request(
                "PUT", "/v1/me/consents", json: change, headers: ["Cookie": cookie, "Origin": "https://\(host)", "Sec-Fetch-Site": "same-origin"])
            #expect(proxied.status == 200, "\(proxied.text)")
            let olderBrowser = try await platform.request(
                "PUT", "/v1/me/consents", json: change, headers: ["Cookie": cookie, "Origin": "https://\(host)"])
            #expect(olderBrowser.status == 200, "an older browser sends only Origin: its host decides")
            // Login CSRF: another site cannot sign this browser in, nor register an account from it.
            let crossSiteSignIn = try await platform.request(
                "POST", "/v1/sessions", json: ["email": email, "password": AccountsPlatform.password],
                headers: ["Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"])
            #expect(crossSiteSignIn.status == 403)
            #expect(Self.header(crossSiteSignIn, "Set-Cookie") == nil)
            let bearer = try await platform.request(
                "PUT", "/v1/me/consents", token: token, json: change, headers: ["Origin": "https://evil.example"])
            #expect(bearer.status == 200, "a Bearer token is never sent by a browser on its own")
            // Reading is not a change: a cross-site GET with the cookie still reads (SameSite=Lax decides that).
            let read = try await platform.request("GET", "/v1/me", headers: ["Cookie": cookie, "Origin": "https://evil.example"])
            #expect(read.status == 200)
        }
    }

    @Test("in headless Chromium: cookies chosen in the banner, search as you type, join with the policy, consents, export, a board post after the notice, a reply's notice live in the inbox, a card through the processor and a top-up, a declined card's message, a favorite, a live chat with an advisor in a second browser that survives a dropped connection, a refund request, a paid chat with the one-minute warning on both sides, a pause until the member adds funds, and its review answered by the advisor, the chat history, staff moderation and a lookup the person sees, delete; axe-core finds nothing serious")
    func browserJourney() async throws {
        let python = try #require(
            ProcessInfo.processInfo.environment["PYTHON_TOOLS"],
            "set PYTHON_TOOLS to a python with selenium (Deploy/local/test installs it and sets it)")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let artifacts = ProcessInfo.processInfo.environment["BROWSER_ARTIFACTS"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent(".build/browser-artifacts")
        try await AccountsPlatform.with(serviceEnvironment: Self.demoData, payments: true) { platform in
            // The page names the processor, and its policy lets it call there and nowhere else.
            let page = try await platform.request("GET", "/")
            let processor = try #require(platform.payments).sandbox
            #expect(Self.header(page, "Content-Security-Policy")?.contains("connect-src 'self' \(processor);") == true)
            #expect(page.text.contains(#"<meta name="processor-url" content="\#(processor)">"#))
            let adminEmail = "web-admin@example.com"
            try await platform.createAdmin(email: adminEmail, password: AccountsPlatform.password)
            let log = artifacts.appendingPathComponent("web_client.log")
            try? FileManager.default.removeItem(at: artifacts)
            try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            let run = try ChildProcess(
                URL(fileURLWithPath: python),
                arguments: [
                    root.appendingPathComponent("Tests/Browser/web_client.py").path, "--gateway", platform.gateway,
                    "--artifacts", artifacts.path, "--admin-email", adminEmail, "--admin-password", AccountsPlatform.password,
                ],
                standardOutput: handle.fileDescriptor, standardError: handle.fileDescriptor)
            let status = await run.exitStatus()
            try? handle.close()
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            #expect(status == 0, "\(output)")
            // The figures line: first load and search latency, measured in the browser.
            let figures = output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
            let loaded = try #require(figures?["firstLoadBytes"] as? Int, "\(output)")
            #expect(loaded < 150_000, "the first load is \(loaded) bytes")
            #expect((figures?["pagesChecked"] as? [String])?.count == 18, "axe-core checked every page: \(output)")
            print("web client: \(output.split(separator: "\n").last ?? "")")
        }
    }
}
