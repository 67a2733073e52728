import Foundation
import Logging
import Models
import Store
import TestSupport
import Testing

/// Webhooks out (Standard Webhooks v1), checked by someone else's verifier: the receiver is a
/// Python HTTP server that checks every delivery with the `standardwebhooks` package from PyPI.
@Suite("Webhooks end to end", .serialized, .timeLimit(.minutes(4)))
struct WebhooksEndToEndTests {
    /// A partner receiver: answers each POST with the next status of its script (200 once the
    /// script is used up), verifies each against every secret it was given, and lists what came
    /// (`GET`); `PUT {"secrets": [...], "script": [...]}` configures it.
    static let receiver = """
        import json, sys, threading
        from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
        from standardwebhooks import Webhook, WebhookVerificationError
        state = {"secrets": [], "script": [], "received": []}
        lock = threading.Lock()
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args): pass
            def reply(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                with lock:
                    body = json.dumps(state["received"]).encode()
                self.reply(200, body)
            def do_PUT(self):
                config = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with lock:
                    state.update(config)
                self.reply(204)
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = dict(self.headers.items())
                verified = []
                for secret in state["secrets"]:
                    try:
                        Webhook(secret).verify(body, headers)
                        verified.append(True)
                    except WebhookVerificationError:
                        verified.append(False)
                with lock:
                    status = state["script"].pop(0) if state["script"] else 200
                    state["received"].append({
                        "id": headers.get("webhook-id"), "type": json.loads(body).get("type"), "data": json.loads(body).get("data"),
                        "verified": verified, "answered": status})
                self.reply(status)
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
        """

    /// A running receiver: its URL, and what it received so far.
    struct Receiver {
        let url: String
        let process: ChildProcess
        let log: URL

        static func start() async throws -> Receiver {
            let python = try #require(
                ProcessInfo.processInfo.environment["PYTHON_TOOLS"],
                "set PYTHON_TOOLS to a python with standardwebhooks (Deploy/local/test installs it and sets it)")
            let port = try FreePort.next()
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("webhooks-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let log = folder.appendingPathComponent("receiver.log")
            let process = try EmailEndToEndTests.python(python, WebhooksEndToEndTests.receiver, ["\(port)"], log: log)
            let receiver = Receiver(url: "http://127.0.0.1:\(port)", process: process, log: log)
            try await eventually("the receiver listens") { await HTTP.request("GET", receiver.url, body: nil)?.status == 200 }
            return receiver
        }

        func configure(secrets: [String], script: [Int] = []) async throws {
            let body = try JSONSerialization.data(withJSONObject: ["secrets": secrets, "script": script])
            #expect(await HTTP.request("PUT", url, body: body)?.status == 204)
        }

        func received() async throws -> [[String: Any]] {
            let answer = try #require(await HTTP.request("GET", url, body: nil))
            return try #require(try JSONSerialization.jsonObject(with: answer.body) as? [[String: Any]])
        }

        func stop() {
            process.signal(SIGTERM)
        }
    }

    /// A partner with a key for `scopes` and what calls the partner API with it.
    struct Partner {
        let platform: AccountsPlatform
        let key: String

        func call(_ method: String, _ path: String, json: String? = nil, idempotencyKey: String? = UUID().uuidString) async throws -> Reply {
            var headers = ["Authorization": "Bearer \(key)"]
            if method == "POST", let idempotencyKey { headers["Idempotency-Key"] = idempotencyKey }
            if json != nil { headers["Content-Type"] = "application/json" }
            let integration = try #require(platform.payments).integration
            return Reply(answer: try #require(await HTTP.request(method, integration + path, headers: headers, body: json.map { Data($0.utf8) })))
        }
    }

    static func partner(_ platform: AccountsPlatform, scopes: [String] = ["webhooks:manage"]) async throws -> Partner {
        let admin = try await PartnersEndToEndTests.partner(platform)
        return Partner(platform: platform, key: try await PartnersEndToEndTests.makeKey(platform, admin: admin, scopes: scopes).secret)
    }

    @Test("an endpoint gets signed events that standardwebhooks verifies; failures are retried and listed; a replay sends again; 410 disables")
    func deliveriesRetriesAndReplay() async throws {
        try await AccountsPlatform.with(
            payments: true, integrationEnvironment: ["INTEGRATION_WEBHOOK_RETRY_SECONDS": "0,1,1,1"]
        ) { platform in
            let receiver = try await Receiver.start()
            defer { receiver.stop() }
            let partner = try await Self.partner(platform)
            let body = #"{"url": "\#(receiver.url)/hooks", "eventTypes": ["advisor.status-changed"], "description": "status board"}"#
            let made = try await partner.call("POST", "/partner/v1/webhooks/endpoints", json: body, idempotencyKey: "endpoint-1")
            #expect(made.status == 201, "\(made.text)")
            let secret = try #require(made.object["secret"] as? String)
            let id = try #require(made.object["id"] as? String)
            #expect(secret.hasPrefix("whsec_"))
            let repeated = try await partner.call("POST", "/partner/v1/webhooks/endpoints", json: body, idempotencyKey: "endpoint-1")
            #expect(repeated.status == 201 && repeated.object["id"] as? String == id && repeated.object["secret"] as? String == secret)
            let listed = try await partner.call("GET", "/partner/v1/webhooks/endpoints")
            #expect(listed.items.count == 1 && listed.items[0]["secret"] == nil, "a list never shows the secret: \(listed.text)")
            try await receiver.configure(secrets: [secret], script: [500, 503])

            // An advisor going online reaches the partner, after two failed attempts.
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            try await eventually("the status change is delivered", timeout: .seconds(30)) {
                try await receiver.received().contains { $0["answered"] as? Int == 200 && $0["type"] as? String == "advisor.status-changed" }
            }
            let received = try await receiver.received()
            #expect(received.allSatisfy { $0["verified"] as? [Bool] == [true] }, "\(received)")
            let delivered = try #require(received.first { $0["answered"] as? Int == 200 })
            let messageId = try #require(delivered["id"] as? String)
            #expect(received.filter { $0["id"] as? String == messageId }.map { $0["answered"] as? Int } == [500, 503, 200], "one id on every attempt")
            let data = try #require(delivered["data"] as? [String: Any])
            #expect(data["advisorId"] as? String == advisor.id && data["status"] as? String == "online", "ids as the partner API writes them: \(data)")
            // The last attempt is recorded once the receiver has answered, a moment after it has the message.
            var attempts: Reply?
            try await eventually("the three attempts are recorded") {
                attempts = try await partner.call("GET", "/partner/v1/webhooks/endpoints/\(id)/attempts?messageId=\(messageId)")
                return attempts?.items.count ?? 0 >= 3
            }
            #expect(attempts?.items.map { $0["responseStatus"] as? Int } == [200, 503, 500], "newest first: \(attempts?.text ?? "")")

            // A replay sends the message again, with the same id.
            let replay = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/replay", json: #"{"messageId": "\#(messageId)"}"#)
            #expect(replay.status == 202 && replay.object["queued"] as? Int == 1, "\(replay.text)")
            try await eventually("the replay is delivered") {
                try await receiver.received().filter { $0["id"] as? String == messageId }.count == 4
            }

            // Rotation: the new secret signs at once, beside the old one for a while.
            let rotated = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/rotate-secret")
            let newSecret = try #require(rotated.object["secret"] as? String, "\(rotated.text)")
            try await receiver.configure(secrets: [newSecret, secret])
            let test = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/test")
            #expect(test.status == 202, "\(test.text)")
            let testId = try #require(test.object["messageId"] as? String)
            try await eventually("the test message arrives") { try await receiver.received().contains { $0["id"] as? String == testId } }
            let testMessage = try #require(try await receiver.received().first { $0["id"] as? String == testId })
            #expect(testMessage["verified"] as? [Bool] == [true, true], "both secrets sign during the overlap: \(testMessage)")

            // A delivery that fails on every attempt is failed for good; a replay since then sends it once more.
            try await receiver.configure(secrets: [newSecret], script: [500, 500, 500, 500])
            let failing = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/test")
            let failingId = try #require(failing.object["messageId"] as? String)
            try await eventually("four attempts are made, no more") {
                try await partner.call("GET", "/partner/v1/webhooks/endpoints/\(id)/attempts?messageId=\(failingId)").items.count == 4
            }
            let since = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-60))
            let recovered = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/replay", json: #"{"since": "\#(since)"}"#)
            #expect(recovered.object["queued"] as? Int == 1, "only the undelivered one: \(recovered.text)")
            try await eventually("the recovered message is delivered") {
                try await receiver.received().contains { $0["id"] as? String == failingId && $0["answered"] as? Int == 200 }
            }

            // 410: the endpoint is gone, and disabled; nothing more is sent to it until it is enabled.
            try await receiver.configure(secrets: [newSecret], script: [410])
            _ = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/test")
            try await eventually("the endpoint is disabled") {
                try await partner.call("GET", "/partner/v1/webhooks/endpoints/\(id)").object["enabled"] as? Bool == false
            }
            #expect(try await partner.call("GET", "/partner/v1/webhooks/endpoints/\(id)").object["disabledReason"] as? String == "gone")
            #expect(try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/test").status == 409, "nothing is sent to it")
            // What happens meanwhile is kept: once enabled again, a replay since then sends it.
            let before = try await receiver.received().count
            let disabledAt = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-1))
            #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: advisor.token, json: ["status": "offline"]).status == 200)
            try await Task.sleep(for: .seconds(1))
            #expect(try await receiver.received().count == before, "not sent while disabled")
            let enabled = try await partner.call("PATCH", "/partner/v1/webhooks/endpoints/\(id)", json: #"{"enabled": true}"#)
            #expect(enabled.status == 200 && enabled.object["enabled"] as? Bool == true, "\(enabled.text)")
            var caughtUp = 0
            try await eventually("the change made while disabled is replayed") {
                let replayed = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/replay", json: #"{"since": "\#(disabledAt)"}"#)
                caughtUp = replayed.object["queued"] as? Int ?? 0
                return caughtUp >= 1
            }
            try await eventually("it arrives") {
                try await receiver.received().contains { ($0["data"] as? [String: Any])?["status"] as? String == "offline" }
            }
        }
    }

    @Test("a partner's contact, kept from the public list, is emailed when the platform disables one of its endpoints")
    func ownerTold() async throws {
        try await AccountsPlatform.with(payments: true, mail: true) { platform in
            let receiver = try await Receiver.start()
            defer { receiver.stop() }
            let admin = try await platform.staffMember(role: "admin")
            let first = AccountsPlatform.email("partner-ops")
            let bad = try await platform.request(
                "POST", "/v1/staff/partners", token: admin, json: ["id": "horoscope-daily", "name": "Horoscope Daily", "contactEmail": "ops"])
            #expect(bad.status == 422, "\(bad.text)")
            let registered = try await platform.request(
                "POST", "/v1/staff/partners", token: admin, json: ["id": "horoscope-daily", "name": "Horoscope Daily", "contactEmail": first])
            #expect(registered.status == 201, "\(registered.text)")
            let contact = AccountsPlatform.email("partner-oncall")
            let changed = try await platform.request(
                "PUT", "/v1/staff/partners/horoscope-daily/contact", token: admin, json: ["contactEmail": contact])
            #expect(changed.status == 200 && changed.object["contactEmail"] as? String == contact, "\(changed.text)")
            let listed = try await platform.request("GET", "/v1/partners")
            #expect(listed.status == 200 && !listed.text.contains(contact) && !listed.text.contains(first), "public: \(listed.text)")

            let partner = Partner(
                platform: platform, key: try await PartnersEndToEndTests.makeKey(platform, admin: admin, scopes: ["webhooks:manage"]).secret)
            let made = try await partner.call(
                "POST", "/partner/v1/webhooks/endpoints", json: #"{"url": "\#(receiver.url)/gone", "eventTypes": ["advisor.status-changed"]}"#)
            let id = try #require(made.object["id"] as? String, "\(made.text)")
            try await receiver.configure(secrets: [try #require(made.object["secret"] as? String)], script: [410])
            _ = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/test")
            try await eventually("the endpoint is disabled") {
                try await partner.call("GET", "/partner/v1/webhooks/endpoints/\(id)").object["enabled"] as? Bool == false
            }
            try await eventually("the partner's contact is told", timeout: .seconds(30)) {
                try await EmailEndToEndTests.inbox(platform, contact).count == 1
            }
            let notice = try #require(try await EmailEndToEndTests.inbox(platform, contact).first)
            #expect(notice["subject"] as? String == "Advisor Platform disabled one of your webhook endpoints")
            let text = notice["text"] as? String ?? ""
            #expect(text.contains("Hello Horoscope Daily,") && text.lowercased().contains(id.lowercased()) && text.contains("410 Gone"), "\(text)")
            #expect(try await EmailEndToEndTests.inbox(platform, first).isEmpty, "the address it had before is not written to")
        }
    }

    @Test("referral.converted: a code's sign-ups of a day that is over, once, and only when the group is big enough")
    func referralConversions() async throws {
        try await AccountsPlatform.with(
            payments: true, integrationEnvironment: ["INTEGRATION_REPORT_MIN_GROUP": "2", "INTEGRATION_REFERRAL_WEBHOOK_SECONDS": "1"]
        ) { platform in
            let receiver = try await Receiver.start()
            defer { receiver.stop() }
            let partner = try await Self.partner(platform, scopes: ["webhooks:manage", "referrals:write"])
            for code in ["STARS2026", "MOON2026"] {
                let made = try await partner.call("POST", "/partner/v1/referral-codes", json: #"{"code": "\#(code)"}"#)
                #expect(made.status == 201, "\(made.text)")
            }
            for (index, code) in ["STARS2026", "STARS2026", "MOON2026"].enumerated() {
                try await platform.register(email: AccountsPlatform.email("referred\(index)"), extra: ["referralCode": code])
            }
            // Midnight passes: the day's sign-ups become yesterday's.
            let accounts = Database(platform.harness.database.config(schema: "accounts"), logger: Logger(label: "test"))
            let yesterday = try await accounts.withConnection { connection in
                _ = try connection.execute("UPDATE referral_signups SET day = day - 1")
                return try #require(try connection.queryOne("SELECT to_char(max(day), 'YYYY-MM-DD') AS day FROM referral_signups")?.decode("day", as: String.self))
            }
            await accounts.close()

            let made = try await partner.call(
                "POST", "/partner/v1/webhooks/endpoints", json: #"{"url": "\#(receiver.url)/referrals", "eventTypes": ["referral.converted"]}"#)
            try await receiver.configure(secrets: [try #require(made.object["secret"] as? String, "\(made.text)")])
            try await eventually("the finished day is told", timeout: .seconds(30)) {
                try await receiver.received().contains { $0["type"] as? String == "referral.converted" }
            }
            // Looked for every second: a while more shows it is told once, and the group of one never.
            try await Task.sleep(for: .seconds(3))
            let told = try await receiver.received().filter { $0["type"] as? String == "referral.converted" }
            #expect(told.count == 1 && told.allSatisfy { $0["verified"] as? [Bool] == [true] }, "\(told)")
            let data = try #require(told.first?["data"] as? [String: Any])
            #expect(data["code"] as? String == "STARS2026" && data["signups"] as? Int == 2 && data["day"] as? String == yesterday, "\(data)")
        }
    }

    @Test("endpoints are the partner's own, need webhooks:manage and an Idempotency-Key, and take only what they document")
    func endpointRules() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let admin = try await PartnersEndToEndTests.partner(platform)
            let owner = Partner(platform: platform, key: try await PartnersEndToEndTests.makeKey(platform, admin: admin, scopes: ["webhooks:manage"]).secret)
            let reader = Partner(platform: platform, key: try await PartnersEndToEndTests.makeKey(platform, admin: admin, scopes: ["directory:read"]).secret)
            let good = #"{"url": "http://127.0.0.1:9/hooks", "eventTypes": ["advisor.status-changed"]}"#
            #expect(try await reader.call("GET", "/partner/v1/webhooks/endpoints").code == "insufficient_scope")
            #expect(try await owner.call("POST", "/partner/v1/webhooks/endpoints", json: good, idempotencyKey: nil).status == 400)
            for bad in [
                #"{"url": "ftp://127.0.0.1/hooks", "eventTypes": ["advisor.status-changed"]}"#,
                #"{"url": "http://user:pw@127.0.0.1/hooks", "eventTypes": ["advisor.status-changed"]}"#,
                #"{"url": "http://[::1]/hooks", "eventTypes": ["advisor.status-changed"]}"#,
                #"{"url": "http://127.0.0.1/hooks#part", "eventTypes": ["advisor.status-changed"]}"#,
                #"{"url": "http://127.0.0.1/hooks", "eventTypes": ["advisor.everything"]}"#,
                #"{"url": "http://127.0.0.1/hooks", "eventTypes": []}"#,
                #"{"url": "http://127.0.0.1/hooks", "eventTypes": ["advisor.status-changed"], "secret": "mine"}"#,
                #"{"url": null, "eventTypes": ["advisor.status-changed"]}"#,
            ] {
                let refused = try await owner.call("POST", "/partner/v1/webhooks/endpoints", json: bad)
                #expect(refused.status == 422, "\(bad): \(refused.text)")
            }
            #expect(try await owner.call("POST", "/partner/v1/webhooks/endpoints", json: #"{"url": "#).status == 400)
            #expect(try await owner.call("GET", "/partner/v1/webhooks/endpoints").items.isEmpty, "nothing refused was saved")

            let made = try await owner.call("POST", "/partner/v1/webhooks/endpoints", json: good, idempotencyKey: "k")
            let id = try #require(made.object["id"] as? String)
            let reused = try await owner.call("POST", "/partner/v1/webhooks/endpoints", json: good.replacingOccurrences(of: ":9/", with: ":10/"), idempotencyKey: "k")
            #expect(reused.code == "idempotency_key_reused", "\(reused.text)")

            // Another partner sees none of it.
            _ = try await platform.request("POST", "/v1/staff/partners", token: admin, json: ["id": "other-partner", "name": "Other"])
            let other = Partner(
                platform: platform,
                key: try await PartnersEndToEndTests.makeKey(platform, admin: admin, partner: "other-partner", scopes: ["webhooks:manage"]).secret)
            #expect(try await other.call("GET", "/partner/v1/webhooks/endpoints").items.isEmpty)
            #expect(try await other.call("GET", "/partner/v1/webhooks/endpoints/\(id)").status == 404)
            #expect(try await other.call("DELETE", "/partner/v1/webhooks/endpoints/\(id)").status == 404)
            #expect(try await other.call("POST", "/partner/v1/webhooks/endpoints/\(id)/test").status == 404)
            #expect(try await owner.call("GET", "/partner/v1/webhooks/endpoints/not-an-id").status == 404)

            #expect(try await owner.call("DELETE", "/partner/v1/webhooks/endpoints/\(id)").status == 204)
            #expect(try await owner.call("GET", "/partner/v1/webhooks/endpoints/\(id)").status == 404)
        }
    }

    @Test("two integration instances share the deliveries: each message arrives once, from either")
    func instancesShareTheWork() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let receiver = try await Receiver.start()
            defer { receiver.stop() }
            _ = try await platform.startIntegration()
            let partner = try await Self.partner(platform)
            let made = try await partner.call(
                "POST", "/partner/v1/webhooks/endpoints", json: #"{"url": "\#(receiver.url)/hooks", "eventTypes": ["advisor.status-changed"]}"#)
            let id = try #require(made.object["id"] as? String, "\(made.text)")
            try await receiver.configure(secrets: [try #require(made.object["secret"] as? String)])
            var sent: Set<String> = []
            for _ in 0..<40 {
                let test = try await partner.call("POST", "/partner/v1/webhooks/endpoints/\(id)/test")
                sent.insert(try #require(test.object["messageId"] as? String, "\(test.text)"))
            }
            try await eventually("every message arrives") { Set(try await receiver.received().compactMap { $0["id"] as? String }) == sent }
            let received = try await receiver.received()
            #expect(received.count == sent.count, "none twice: \(received.count) for \(sent.count)")
            #expect(received.allSatisfy { $0["verified"] as? [Bool] == [true] })
            // An attempt is recorded once the receiver has answered, so a moment after it has the message.
            try await eventually("one attempt recorded for each message") {
                try await partner.call("GET", "/partner/v1/webhooks/endpoints/\(id)/attempts?limit=100").items.count == sent.count
            }
        }
    }

    @Test("deployed, a webhook URL on a private, loopback or link-local address is refused")
    func privateAddressesRefused() async throws {
        try await AccountsPlatform.with(payments: true, integrationEnvironment: ["INTEGRATION_WEBHOOK_ALLOW_PRIVATE": "0"]) { platform in
            let partner = try await Self.partner(platform)
            for url in [
                "http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://10.1.2.3/hooks", "http://192.168.0.10/hooks",
                "http://169.254.169.254/latest/meta-data", "http://0.0.0.0/hooks", "http://100.64.0.1/hooks", "http://172.16.5.4/hooks",
            ] {
                let refused = try await partner.call(
                    "POST", "/partner/v1/webhooks/endpoints", json: #"{"url": "\#(url)", "eventTypes": ["advisor.status-changed"]}"#)
                #expect(refused.status == 422 && refused.text.contains("address_not_allowed"), "\(url): \(refused.text)")
            }
            #expect(try await partner.call("GET", "/partner/v1/webhooks/endpoints").items.isEmpty)
        }
    }
}
