import Foundation
import Logging
import Models
import Store
import Testing
import TestSupport

/// Marketing email (docs/api.md "Notifications"): an admin's campaign reaches only the people
/// whose marketing consent for email is on when their message leaves; its RFC 8058 link
/// withdraws that consent with one POST and never with a GET, and is covered by the DKIM signature.
@Suite(.timeLimit(.minutes(3)))
struct CampaignEndToEndTests {
    static func campaignMessages(_ platform: AccountsPlatform, _ address: String, subject: String) async throws -> [[String: Any]] {
        try await EmailEndToEndTests.inbox(platform, address).filter { $0["subject"] as? String == subject }
    }

    @Test("a campaign goes to consenting people only, with one-click unsubscribe headers; GET never unsubscribes, POST does at once")
    func campaignAndUnsubscribe() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("campaign-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let key = try await EmailEndToEndTests.dkimKey(in: folder)
        let environment: [ServiceName: [String: String]] = [.notifications: ["NOTIFICATIONS_DKIM_KEY_FILE": key.file.path]]
        try await AccountsPlatform.with(serviceEnvironment: environment, mail: true) { platform in
            let fanEmail = AccountsPlatform.email("fan")
            let quietEmail = AccountsPlatform.email("quiet")
            _ = try await platform.register(email: fanEmail, displayName: "Fan", extra: ["marketingEmailOptIn": true])
            _ = try await platform.register(email: quietEmail, displayName: "Quiet")
            let fan = try await platform.signIn(email: fanEmail)
            let adminEmail = AccountsPlatform.email("admin")
            try await platform.createAdmin(email: adminEmail, password: AccountsPlatform.password)
            let admin = try await platform.signIn(email: adminEmail)

            let news: [String: Any] = ["subject": "New astrologers this week", "text": "Three new astrologers joined.\n\nSay hello to them!"]
            #expect(try await platform.request("POST", "/v1/staff/campaigns", token: fan, json: news).status == 403)
            #expect(try await platform.request("POST", "/v1/staff/campaigns", token: admin, json: ["subject": " ", "text": "x"]).status == 422)
            let created = try await platform.request("POST", "/v1/staff/campaigns", token: admin, json: news)
            #expect(created.status == 202, "\(created.text)")
            let campaign = try #require(created.object["id"] as? String)
            try await eventually("the fan gets the campaign") {
                try await Self.campaignMessages(platform, fanEmail, subject: "New astrologers this week").count == 1
            }
            try await eventually("the campaign counts one sent") {
                try await platform.request("GET", "/v1/staff/campaigns/\(campaign)", token: admin).object["sent"] as? Int == 1
            }
            #expect(try await Self.campaignMessages(platform, quietEmail, subject: "New astrologers this week").isEmpty, "no consent, no news")
            let message = try #require(try await Self.campaignMessages(platform, fanEmail, subject: "New astrologers this week").first)
            #expect(EmailEndToEndTests.header(message, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click")
            #expect((message["html"] as? String)?.contains("<p>Say hello to them!</p>") == true)
            // Both RFC 8058 headers are under the DKIM signature, which dkimpy finds valid.
            #expect(EmailEndToEndTests.header(message, "DKIM-Signature")?.contains("list-unsubscribe:list-unsubscribe-post") == true)
            let verdict = try await EmailEndToEndTests.dkimVerdict(
                try #require(message["raw"] as? String), publicKey: key.publicKey, selector: "advisor", in: folder)
            #expect(verdict == "valid")
            let link = try #require(EmailEndToEndTests.header(message, "List-Unsubscribe"))
            let path = try #require(link.firstMatch(of: /<https?:\/\/[^\/]+(\/v1\/unsubscribe\/[^>]+)>/)?.1)

            func marketingEmail() async throws -> Bool? {
                try await platform.request("GET", "/v1/me/consents", token: fan).object["marketingEmail"] as? Bool
            }
            let page = try await platform.request("GET", String(path))
            #expect(page.status == 200 && page.text.contains("<form method=\"post\"") && page.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(try await marketingEmail() == true, "a GET changes nothing")
            let form = ["Content-Type": "application/x-www-form-urlencoded"]
            #expect(try await platform.request("POST", String(path), body: Data("something=else".utf8), headers: form).status == 422)
            #expect(try await marketingEmail() == true)
            let done = try await platform.request("POST", String(path), body: Data("List-Unsubscribe=One-Click".utf8), headers: form)
            #expect(done.status == 200, "\(done.text)")
            #expect(try await marketingEmail() == false, "withdrawn at once")
            let history = try await platform.request("GET", "/v1/me/consents/history", token: fan)
            #expect(history.items.first?["source"] as? String == "unsubscribe_link" && history.items.first?["granted"] as? Bool == false)
            #expect(try await platform.request("GET", "/v1/unsubscribe/not-a-token").status == 404)

            // The next campaign finds no one; a message planned before the withdrawal is cancelled when it would leave.
            let next = try await platform.request("POST", "/v1/staff/campaigns", token: admin, json: ["subject": "More news", "text": "Hello"])
            let nextId = try #require(next.object["id"] as? String)
            try await eventually("the next campaign is planned, for no one") {
                let state = try await platform.request("GET", "/v1/staff/campaigns/\(nextId)", token: admin).object
                return state["status"] as? String == "sending" && state["planned"] as? Int == 0
            }
            let notifications = Database(platform.harness.database.config(schema: "notifications"), logger: Logger(label: "test"))
            defer { Task { await notifications.close() } }
            let fanId = try await platform.request("GET", "/v1/me", token: fan).object["id"] as? String
            try await notifications.withConnection { connection in
                _ = try connection.execute(
                    "INSERT INTO deliveries (id, account_id, kind, channel, campaign_id) VALUES ($1, $2, 'campaign', 'email', $3)", UUID(),
                    try #require(UUID(uuidString: fanId ?? "")), try #require(UUID(uuidString: nextId)))
            }
            try await eventually("the planned message is cancelled, not sent") {
                try await platform.request("GET", "/v1/staff/campaigns/\(nextId)", token: admin).object["cancelled"] as? Int == 1
            }
            #expect(try await Self.campaignMessages(platform, fanEmail, subject: "More news").isEmpty)
        }
    }
}
