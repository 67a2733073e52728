import Foundation
import Logging
import Models
import Store
import Testing
import TestSupport

/// The in-app inbox and the settings through the gateway (docs/api.md "Notifications"): notices
/// made from other services' events, pushed live, read and marked read; settings per kind and
/// channel with quiet hours; export and erasure.
@Suite(.timeLimit(.minutes(3)))
struct NotificationsEndToEndTests {
    @Test("a reply on the boards reaches the thread's author and the person it mentions, live and in the inbox; read; turned off, none")
    func boardReplies() async throws {
        try await AccountsPlatform.with(gatewayEnvironment: StreamClient.gatewayEnvironment) { platform in
            let owner = try await ChatEndToEndTests.member(platform, name: "Thread Owner")
            let alice = try await ChatEndToEndTests.member(platform, name: "Alice Moon")
            let bob = try await ChatEndToEndTests.member(platform, name: "Bob Star")
            let started = try await BoardsEndToEndTests.startThread(platform, title: "Full moon rituals", text: "Share yours", token: owner.token)
            let threadId = try #require(started.object["id"] as? String)
            func reply(_ text: String, _ token: String) async throws {
                let reply = try await platform.request(
                    "POST", "/v1/threads/\(threadId)/posts", token: token, json: ["text": text, "acknowledgePublic": true])
                #expect(reply.status == 201, "\(reply.text)")
            }
            func inbox(_ token: String, _ query: String = "") async throws -> [[String: Any]] {
                try await platform.request("GET", "/v1/me/notifications\(query)", token: token).items
            }
            let ownerStream = try await StreamClient.connect(platform.gateway, as: .subprotocol(owner.token))

            try await reply("Candles and silence.", alice.token)
            let pushed = try await ownerStream.next("the notice is pushed") { $0["type"] as? String == "notification" }
            let notice = try #require(pushed["notification"] as? [String: Any])
            #expect(notice["kind"] as? String == "board_reply" && (notice["subject"] as? [String: Any])?["threadId"] as? String == threadId)
            try await reply("@Alice Moon lovely, thank you!", bob.token)
            try await eventually("alice is told she was mentioned") { try await inbox(alice.token).count == 1 }
            #expect(try await inbox(alice.token).first?["text"] as? String == "You were mentioned in a reply on the boards.")
            #expect(try await inbox(bob.token).isEmpty, "never the replier")
            let ownerInbox = try await inbox(owner.token)
            #expect(ownerInbox.count == 2 && ownerInbox.allSatisfy { $0["readAt"] == nil }, "newest first, both unread")
            #expect(try await inbox(owner.token, "?limit=1").count == 1)

            // Read: some, then all; twice is once.
            let first = try #require(ownerInbox.last?["id"] as? String)
            let marked = try await platform.request("POST", "/v1/me/notifications/read", token: owner.token, json: ["ids": [first]])
            #expect(marked.status == 200 && marked.object["marked"] as? Int == 1, "\(marked.text)")
            #expect(try await inbox(owner.token, "?unread=true").count == 1)
            #expect(try await platform.request("POST", "/v1/me/notifications/read", token: alice.token, json: ["ids": [first]]).object["marked"] as? Int == 0,
                "only one's own")
            #expect(try await platform.request("POST", "/v1/me/notifications/read", token: owner.token, json: ["all": true]).object["marked"] as? Int == 1)
            #expect(try await inbox(owner.token, "?unread=true").isEmpty)
            #expect(try await platform.request("POST", "/v1/me/notifications/read", token: owner.token, json: [:]).status == 422)
            #expect(try await platform.request("GET", "/v1/me/notifications?unread=maybe", token: owner.token).status == 422)
            #expect(try await platform.request("GET", "/v1/me/notifications").status == 401)

            // The owner turns board replies off in the app: the next reply tells alice only.
            let off: [String: Any] = ["kinds": [["kind": "board_reply", "channels": ["inApp": false]]]]
            let set = try await platform.request("PUT", "/v1/me/notification-settings", token: owner.token, json: off)
            #expect(set.status == 200, "\(set.text)")
            try await reply("@Alice Moon and the owner, again", bob.token)
            try await eventually("alice is told again") { try await inbox(alice.token).count == 2 }
            #expect(try await inbox(owner.token).count == 2, "the owner's reply notice was not made")
        }
    }

    @Test("settings list every kind and its channels; quiet hours need a real time zone; bad settings change nothing; export and erasure")
    func settings() async throws {
        try await AccountsPlatform.with { platform in
            let member = try await ChatEndToEndTests.member(platform)
            let defaults = try await platform.request("GET", "/v1/me/notification-settings", token: member.token)
            let kinds = try #require(defaults.object["kinds"] as? [[String: Any]], "\(defaults.text)")
            #expect(
                kinds.map { $0["kind"] as? String } == [
                    "board_reply", "chat_request", "favorite_online", "low_balance", "payout_sent", "policy_changed", "refund_decided",
                    "review_received", "security_notice", "top_up_receipt",
                ])
            let byKind = Dictionary(uniqueKeysWithValues: kinds.compactMap { kind in
                (kind["kind"] as? String).map { ($0, kind["channels"] as? [String: Bool] ?? [:]) }
            })
            #expect(byKind["board_reply"] == ["inApp": true] && byKind["chat_request"] == ["inApp": true, "sms": true])
            #expect(byKind["favorite_online"] == ["inApp": true, "email": true] && byKind["security_notice"] == ["inApp": true, "email": true])
            #expect(defaults.object["quietHours"] == nil)
            let required = Dictionary(uniqueKeysWithValues: kinds.compactMap { kind in
                (kind["kind"] as? String).map { ($0, kind["required"] as? [String] ?? ["missing"]) }
            })
            #expect(required["security_notice"] == ["email"] && required["policy_changed"] == ["email"] && required["board_reply"] == [],
                "each kind names the channels that cannot be turned off: \(required)")
            let sentBack = try await platform.request("PUT", "/v1/me/notification-settings", token: member.token, json: defaults.object)
            #expect(sentBack.status == 200, "the settings as answered can be sent back: \(sentBack.text)")

            let quiet: [String: Any] = ["start": "22:30", "end": "07:00", "timeZone": "Europe/Paris"]
            let chosen: [String: Any] = ["kinds": [["kind": "favorite_online", "channels": ["inApp": false]]], "quietHours": quiet]
            let saved = try await platform.request("PUT", "/v1/me/notification-settings", token: member.token, json: chosen)
            #expect(saved.status == 200, "\(saved.text)")
            #expect((saved.object["quietHours"] as? [String: String]) == quiet as? [String: String])
            let savedKinds = try #require(saved.object["kinds"] as? [[String: Any]])
            #expect(savedKinds.first { $0["kind"] as? String == "favorite_online" }?["channels"] as? [String: Bool] == ["inApp": false, "email": true])

            for (bad, field) in [
                (["kinds": [["kind": "horoscope", "channels": ["inApp": true]]]], "kinds.0.kind"),
                (["kinds": [["kind": "board_reply", "channels": ["sms": true]]]], "kinds.0.channels.sms"),
                (["kinds": [["kind": "security_notice", "channels": ["email": false]]]], "kinds.0.channels.email"),
                (["kinds": [], "quietHours": ["start": "25:00", "end": "07:00", "timeZone": "Europe/Paris"]], "quietHours.start"),
                (["kinds": [], "quietHours": ["start": "22:00", "end": "07:00", "timeZone": "Mars/Olympus"]], "quietHours.timeZone"),
            ] as [([String: Any], String)] {
                let refused = try await platform.request("PUT", "/v1/me/notification-settings", token: member.token, json: bad)
                #expect(refused.status == 422 && refused.text.contains(field), "\(refused.text)")
            }
            #expect(try await platform.request("GET", "/v1/me/notification-settings", token: member.token).object["quietHours"] != nil,
                "a refused change changes nothing")

            let export = try await platform.request("GET", "/v1/me/export", token: member.token)
            let section = (export.object["sections"] as? [String: Any])?["notifications"] as? [String: Any]
            #expect(((section?["settings"] as? [String: Any])?["quietHours"] as? [String: String])?["timeZone"] == "Europe/Paris", "\(export.text)")

            #expect(try await platform.request("DELETE", "/v1/me", token: member.token, json: ["password": AccountsPlatform.password]).status == 202)
            let notifications = Database(platform.harness.database.config(schema: "notifications"), logger: Logger(label: "test"))
            defer { Task { await notifications.close() } }
            try await eventually("the notifications service keeps nothing of the erased person") {
                try await notifications.withConnection { connection in
                    try connection.queryOne(
                        "SELECT (SELECT count(*) FROM channel_settings) + (SELECT count(*) FROM quiet_hours) + (SELECT count(*) FROM notices) AS n")?
                        .decode("n", as: Int.self) == 0
                }
            }
        }
    }
}
