import Foundation
import Logging
import Models
import PlatformSecurity
import Store
import TestSupport
import Testing

/// Texts through the real gateway, accounts, notifications and integration, and the sandbox's SMS
/// provider speaking Twilio's protocol (docs/api.md "Phone and texts").
// One at a time: each starts a whole platform with integration and the sandbox, and five at once
// beside the rest of the end-to-end round slowed everything on two cores.
@Suite("SMS end to end", .serialized, .timeLimit(.minutes(3)))
struct SMSEndToEndTests {
    /// The texts the sandbox provider holds for `number`, oldest first.
    static func texts(_ platform: AccountsPlatform, _ number: String) async throws -> [[String: Any]] {
        let sandbox = try #require(platform.payments).sandbox
        let answer = try #require(await HTTP.get("\(sandbox)/v1/sandbox/sms?to=\(number.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"))
        let object = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
        return object?["messages"] as? [[String: Any]] ?? []
    }

    /// Someone texts the platform from `number`; the sandbox's answer (`reply`, `webhookStatus`).
    static func text(_ platform: AccountsPlatform, from number: String, _ body: String) async throws -> [String: Any] {
        let sandbox = try #require(platform.payments).sandbox
        let answer = try #require(
            await HTTP.request(
                "POST", "\(sandbox)/v1/sandbox/sms/inbound", headers: ["Content-Type": "application/json"],
                body: try JSONSerialization.data(withJSONObject: ["from": number, "body": body])))
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        return try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] ?? [:]
    }

    /// Gives `number` on the account and confirms it with the code texted to it.
    static func verify(_ platform: AccountsPlatform, _ token: String, _ number: String) async throws {
        let given = try await platform.request("PATCH", "/v1/me", token: token, json: ["phone": number])
        #expect(given.status == 200, "\(given.text)")
        let code = try #require(try await Self.code(platform, number))
        let confirmed = try await platform.request("POST", "/v1/me/phone/verification", token: token, json: ["code": code])
        #expect(confirmed.status == 200, "\(confirmed.text)")
    }

    /// The code in the last text to `number`.
    static func code(_ platform: AccountsPlatform, _ number: String) async throws -> String? {
        let body = try await texts(platform, number).last?["body"] as? String ?? ""
        return body.split(whereSeparator: { !$0.isNumber }).first { $0.count == 6 }.map(String.init)
    }

    @Test("a number is the person's once they send back the code texted to it; wrong codes, bad and unreachable numbers change nothing")
    func phoneVerification() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let email = AccountsPlatform.email("phone")
            try await platform.register(email: email)
            let token = try await platform.signIn(email: email)

            // Typed with spaces and dashes, kept as E.164, waiting for its code.
            let given = try await platform.request("PATCH", "/v1/me", token: token, json: ["phone": "+1 415-555-0100"])
            #expect(given.status == 200, "\(given.text)")
            #expect(given.object["pendingPhone"] as? String == "+14155550100" && given.object["phone"] == nil, "\(given.text)")
            let texted = try await Self.texts(platform, "+14155550100")
            #expect(texted.count == 1 && (texted.first?["from"] as? String) == AccountsPlatform.Payments.smsNumber)
            let code = try #require(try await Self.code(platform, "+14155550100"))

            let wrong = code == "000000" ? "111111" : "000000"
            let refused = try await platform.request("POST", "/v1/me/phone/verification", token: token, json: ["code": wrong])
            #expect(refused.status == 422 && refused.code == "invalid_code", "\(refused.text)")
            let confirmed = try await platform.request("POST", "/v1/me/phone/verification", token: token, json: ["code": code])
            #expect(confirmed.status == 200, "\(confirmed.text)")
            #expect(confirmed.object["phone"] as? String == "+14155550100" && confirmed.object["pendingPhone"] == nil)
            let accounts = Database(platform.harness.database.config(schema: "accounts"), logger: Logger(label: "test"))
            let stored = try await accounts.withConnection { connection in
                try connection.query("SELECT phone_sealed, phone_index FROM accounts WHERE phone_sealed IS NOT NULL").map {
                    (try $0.decode("phone_sealed", as: Data.self), try $0.decode("phone_index", as: Data.self))
                }
            }
            #expect(stored.count == 1, "one verified phone")
            for (sealed, index) in stored {
                #expect(!String(decoding: sealed + index, as: UTF8.self).contains("4155550100"), "sealed at rest, and indexed by a keyed hash")
            }
            let again = try await platform.request("POST", "/v1/me/phone/verification", token: token, json: ["code": code])
            #expect(again.status == 409 && again.code == "no_pending_phone", "a code works once: \(again.text)")

            // Not a number: 422 on the field, nothing texted, nothing changed.
            let bad = try await platform.request("PATCH", "/v1/me", token: token, json: ["phone": "call me"])
            #expect(bad.status == 422, "\(bad.text)")
            // A number the provider cannot text (Twilio's not-a-mobile test number): 422 sms_refused.
            let landline = try await platform.request("PATCH", "/v1/me", token: token, json: ["phone": "+15005550009"])
            #expect(landline.status == 422 && landline.code == "sms_refused", "\(landline.text)")
            let me = try await platform.request("GET", "/v1/me", token: token)
            #expect(me.object["phone"] as? String == "+14155550100" && me.object["pendingPhone"] == nil, "\(me.text)")

            // A new number: five wrong codes end it.
            #expect(try await platform.request("PATCH", "/v1/me", token: token, json: ["phone": "+447700900123"]).status == 200)
            let newCode = try #require(try await Self.code(platform, "+447700900123"))
            let newWrong = newCode == "000000" ? "111111" : "000000"
            for _ in 0..<5 {
                #expect(try await platform.request("POST", "/v1/me/phone/verification", token: token, json: ["code": newWrong]).code == "invalid_code")
            }
            let late = try await platform.request("POST", "/v1/me/phone/verification", token: token, json: ["code": newCode])
            #expect(late.status == 422 && late.code == "code_expired", "the right code after five wrong ones: \(late.text)")
            #expect(try await platform.request("GET", "/v1/me", token: token).object["phone"] as? String == "+14155550100")

            // An empty phone removes it.
            let removed = try await platform.request("PATCH", "/v1/me", token: token, json: ["phone": ""])
            #expect(removed.status == 200 && removed.object["phone"] == nil && removed.object["pendingPhone"] == nil, "\(removed.text)")
        }
    }

    @Test("STOP from a person's number stops texts and withdraws SMS marketing (history: sms_stop); START resumes texts, not marketing; HELP answers")
    func keywords() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let email = AccountsPlatform.email("texter")
            try await platform.register(email: email)
            let token = try await platform.signIn(email: email)
            let number = "+14155550142"
            try await Self.verify(platform, token, number)
            #expect(try await platform.request("PUT", "/v1/me/consents", token: token, json: ["marketingSms": true]).status == 200)

            let stopped = try await Self.text(platform, from: number, "  Stop ")
            #expect((stopped["reply"] as? String)?.contains("no more texts") == true, "\(stopped)")
            let consents = try await platform.request("GET", "/v1/me/consents", token: token)
            #expect(consents.object["marketingSms"] as? Bool == false, "\(consents.text)")
            let history = try await platform.request("GET", "/v1/me/consents/history", token: token)
            #expect(
                history.items.contains { $0["consent"] as? String == "marketingSms" && $0["granted"] as? Bool == false && $0["source"] as? String == "sms_stop" },
                "\(history.text)")

            // Nothing is texted to a stopped number: not even a code for another account.
            let otherEmail = AccountsPlatform.email("borrower")
            try await platform.register(email: otherEmail)
            let other = try await platform.signIn(email: otherEmail)
            let refused = try await platform.request("PATCH", "/v1/me", token: other, json: ["phone": number])
            #expect(refused.status == 422 && refused.code == "sms_refused", "\(refused.text)")

            let help = try await Self.text(platform, from: number, "help")
            #expect((help["reply"] as? String)?.contains("Reply STOP") == true, "\(help)")
            let chatter = try await Self.text(platform, from: number, "stop it please")
            #expect(chatter["reply"] == nil, "a sentence is not a keyword: \(chatter)")

            let started = try await Self.text(platform, from: number, "START")
            #expect((started["reply"] as? String)?.contains("back on") == true, "\(started)")
            #expect(try await platform.request("GET", "/v1/me/consents", token: token).object["marketingSms"] as? Bool == false,
                "START does not turn marketing back on")
            #expect(try await platform.request("PATCH", "/v1/me", token: other, json: ["phone": number]).status == 200, "texts go again")
            // Every reply fits one segment or two.
            for message in try await Self.texts(platform, number) where message["direction"] as? String == "outbound-reply" {
                #expect((message["segments"] as? Int ?? 9) <= 2, "\(message)")
            }
        }
    }

    @Test("the SMS webhook takes what Twilio's own library signs and refuses a forged, unsigned or re-pointed request, changing nothing")
    func webhookSignatures() async throws {
        let python = try #require(
            ProcessInfo.processInfo.environment["PYTHON_TOOLS"],
            "set PYTHON_TOOLS to a python with twilio (Deploy/local/test installs it and sets it)")
        try await AccountsPlatform.with(payments: true) { platform in
            let email = AccountsPlatform.email("signed")
            try await platform.register(email: email)
            let token = try await platform.signIn(email: email)
            let number = "+14155550177"
            try await Self.verify(platform, token, number)
            #expect(try await platform.request("PUT", "/v1/me/consents", token: token, json: ["marketingSms": true]).status == 200)

            let integration = try #require(platform.payments).integration
            let url = integration + "/webhooks/sms"
            let form = ["From": number, "To": AccountsPlatform.Payments.smsNumber, "Body": "STOP", "MessageSid": "SMforged0001", "AccountSid": "ACe2e"]
            let body = Data(form.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }
                .joined(separator: "&").utf8)
            func post(_ signature: String?) async throws -> Int {
                var headers = ["Content-Type": "application/x-www-form-urlencoded"]
                if let signature { headers["X-Twilio-Signature"] = signature }
                return try #require(await HTTP.request("POST", url, headers: headers, body: body)).status
            }
            let forged = [
                nil, SMSWebhookSignature.header(url: url, parameters: form, authToken: "a guess"),
                SMSWebhookSignature.header(url: integration + "/webhooks/elsewhere", parameters: form, authToken: AccountsPlatform.Payments.smsAuthToken),
            ]
            for signature in forged {
                #expect(try await post(signature) == 403)
            }
            #expect(try await platform.request("GET", "/v1/me/consents", token: token).object["marketingSms"] as? Bool == true, "nothing changed")

            // Signed by Twilio's RequestValidator: taken, and the STOP applied.
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("twilio-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let log = folder.appendingPathComponent("sign.log")
            let script = """
                import json, sys
                from twilio.request_validator import RequestValidator
                print(RequestValidator(sys.argv[1]).compute_signature(sys.argv[2], json.loads(sys.argv[3])))
                """
            let run = try EmailEndToEndTests.python(
                python, script, [AccountsPlatform.Payments.smsAuthToken, url, String(decoding: try JSONSerialization.data(withJSONObject: form), as: UTF8.self)],
                log: log)
            #expect(await run.exitStatus() == 0)
            let signature = try String(contentsOf: log, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(signature == SMSWebhookSignature.header(url: url, parameters: form, authToken: AccountsPlatform.Payments.smsAuthToken))
            #expect(try await post(signature) == 200)
            #expect(try await platform.request("GET", "/v1/me/consents", token: token).object["marketingSms"] as? Bool == false)
        }
    }

    @Test("a chat request is texted to an advisor with no stream connection, quiet hours or not; one connected sees it in the app and gets no text")
    func chatRequestTexts() async throws {
        try await AccountsPlatform.with(
            gatewayEnvironment: StreamClient.gatewayEnvironment, serviceEnvironment: ChatEndToEndTests.environment, payments: true
        ) { platform in
            // Asleep: quiet hours around now. A chat request is urgent, so they do not hold it.
            let away = try await ChatEndToEndTests.onlineAdvisor(platform, name: "Away Advisor")
            try await Self.verify(platform, away.token, "+14155550111")
            let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour ?? 0
            func clock(_ hours: Int) -> String { String(format: "%02d:00", (hours + 24) % 24) }
            let quiet: [String: Any] = ["kinds": [], "quietHours": ["start": clock(hour - 1), "end": clock(hour + 2), "timeZone": "UTC"]]
            #expect(try await platform.request("PUT", "/v1/me/notification-settings", token: away.token, json: quiet).status == 200)
            let settings = try await platform.request("GET", "/v1/me/notification-settings", token: away.token)
            #expect(settings.text.contains("chat_request"), "\(settings.text)")

            let member = try await ChatEndToEndTests.member(platform)
            let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": away.id])
            #expect(requested.status == 201, "\(requested.text)")
            try await Eventually.wait(timeout: .seconds(20), "the away advisor is texted") {
                try await Self.texts(platform, "+14155550111").contains { ($0["body"] as? String)?.contains("asking you for a chat") == true }
            }
            let inbox = try await platform.request("GET", "/v1/me/notifications", token: away.token)
            #expect(inbox.items.contains { $0["kind"] as? String == "chat_request" }, "\(inbox.text)")

            // Connected: the request reaches the app; the text is dropped when it would leave.
            let present = try await ChatEndToEndTests.onlineAdvisor(platform, name: "Present Advisor")
            try await Self.verify(platform, present.token, "+14155550122")
            let stream = try await StreamClient.connect(platform.gateway, as: .subprotocol(present.token))
            let other = try await ChatEndToEndTests.member(platform, name: "Other Member")
            #expect(try await platform.request("POST", "/v1/chats", token: other.token, json: ["advisorId": present.id]).status == 201)
            _ = try await stream.next("the request in the app") { $0["type"] as? String == "chat.requested" }
            let notifications = Database(platform.harness.database.config(schema: "notifications"), logger: Logger(label: "test"))
            try await Eventually.wait(timeout: .seconds(20), "the text for the connected advisor is settled") {
                try await notifications.withConnection { connection in
                    try connection.queryOne(
                        "SELECT 1 FROM deliveries WHERE account_id = $1 AND kind = 'chat_request' AND status = 'cancelled' AND last_error LIKE 'connected%'",
                        UUID(uuidString: present.id)!) != nil
                }
            }
            #expect(try await Self.texts(platform, "+14155550122").allSatisfy { ($0["body"] as? String)?.contains("chat") != true })
            stream.close()
        }
    }

    @Test("a text campaign reaches only verified numbers whose marketing texts are on, ending with how to stop; too long is refused")
    func textCampaign() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            var people: [(token: String, number: String)] = []
            for (index, number) in ["+14155550201", "+14155550202", "+14155550203"].enumerated() {
                let email = AccountsPlatform.email("audience\(index)")
                try await platform.register(email: email)
                let token = try await platform.signIn(email: email)
                try await Self.verify(platform, token, number)
                people.append((token, number))
            }
            // The first says yes; the second says yes and then texts STOP; the third never says yes.
            for person in people.prefix(2) {
                #expect(try await platform.request("PUT", "/v1/me/consents", token: person.token, json: ["marketingSms": true]).status == 200)
            }
            _ = try await Self.text(platform, from: people[1].number, "STOP")
            let admin = try await platform.staffMember(role: "admin")
            let long = String(repeating: "Stars align. ", count: 30)
            let refused = try await platform.request(
                "POST", "/v1/staff/campaigns", token: admin, json: ["channel": "sms", "subject": "Spring", "text": long])
            #expect(refused.status == 422 && refused.text.contains("too_long"), "\(refused.text)")
            let created = try await platform.request(
                "POST", "/v1/staff/campaigns", token: admin,
                json: ["channel": "sms", "subject": "Spring", "text": "Advisor Platform: 20% off your next reading this weekend."])
            #expect(created.status == 202 && created.object["channel"] as? String == "sms", "\(created.text)")
            let id = try #require(created.object["id"] as? String)
            try await Eventually.wait(timeout: .seconds(30), "the campaign is settled") {
                let campaign = try await platform.request("GET", "/v1/staff/campaigns/\(id)", token: admin).object
                return campaign["status"] as? String == "sending" && campaign["sent"] as? Int == 1
            }
            let texts = try await Self.texts(platform, people[0].number).compactMap { $0["body"] as? String }
            #expect(texts.contains("Advisor Platform: 20% off your next reading this weekend. Reply STOP to opt out."), "\(texts)")
            for person in people.dropFirst() {
                #expect(try await Self.texts(platform, person.number).allSatisfy { ($0["body"] as? String)?.contains("20% off") != true })
            }
        }
    }
}

