import Foundation
import Logging
import Models
import Store
import Testing
import TestSupport

/// Chats through the real gateway, broker and services (docs/api.md "Chat").
@Suite(.serialized, .timeLimit(.minutes(4)))
struct ChatEndToEndTests {
    /// For tests whose advisor accepts: two seconds to accept ran out on a busy CI machine.
    static let environment: [ServiceName: [String: String]] = [.chat: ["CHAT_ACCEPT_SECONDS": "30"]]
    /// For the test that waits for an unanswered request to expire.
    static let hurried: [ServiceName: [String: String]] = [.chat: ["CHAT_ACCEPT_SECONDS": "2"]]

    /// An advisor with a complete profile, online; their id and token.
    static func onlineAdvisor(_ platform: AccountsPlatform, name: String = "Madame Zora") async throws -> (id: String, token: String) {
        let email = AccountsPlatform.email("advisor")
        let id = try await platform.register(email: email, displayName: name, role: "advisor")
        let token = try await platform.signIn(email: email)
        let profile = try await platform.request(
            "PUT", "/v1/advisors/me", token: token,
            json: ["headline": "Tarot with heart", "categories": ["tarot"], "pricePerMinuteCents": 249])
        #expect(profile.status == 200, "\(profile.text)")
        #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: token, json: ["status": "online"]).status == 200)
        return (id, token)
    }

    static func member(_ platform: AccountsPlatform, name: String = "Curious Cat") async throws -> (id: String, token: String) {
        let email = AccountsPlatform.email("member")
        let id = try await platform.register(email: email, displayName: name)
        return (id, try await platform.signIn(email: email))
    }

    static func advisorStatus(_ platform: AccountsPlatform, _ id: String) async throws -> String? {
        try await platform.request("GET", "/v1/advisors/\(id)").object["status"] as? String
    }

    @Test("request, accept, messages once each and only for the two, end; the advisor is busy, then free")
    func lifecycle() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.environment) { platform in
            let advisor = try await Self.onlineAdvisor(platform)
            let member = try await Self.member(platform)
            let stranger = try await Self.member(platform, name: "Nosy Neighbour")

            let byAdvisor = try await platform.request("POST", "/v1/chats", token: advisor.token, json: ["advisorId": advisor.id])
            #expect(byAdvisor.status == 403, "advisors do not ask for chats: \(byAdvisor.text)")
            let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
            #expect(requested.status == 201 && requested.object["status"] as? String == "requested", "\(requested.text)")
            #expect(requested.object["pricePerMinuteCents"] as? Int == 249)
            #expect((requested.object["advisor"] as? [String: Any])?["displayName"] as? String == "Madame Zora")
            let chat = try #require(requested.object["id"] as? String)
            #expect(try await Self.advisorStatus(platform, advisor.id) == "busy", "taken for the chat at once")
            let second = try await Self.onlineAdvisor(platform, name: "Orion Blake")
            let twice = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": second.id])
            #expect(twice.status == 409 && twice.code == "conflict", "one open chat per member: \(twice.text)")
            #expect(try await Self.advisorStatus(platform, second.id) == "online", "the refused request took nobody")

            let early = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: member.token, json: ["text": "Hello?", "clientMessageId": "m0"])
            #expect(early.status == 409 && early.code == "chat_not_active", "\(early.text)")
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: member.token).status == 403)
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: stranger.token).status == 404)
            let accepted = try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token)
            #expect(accepted.status == 200 && accepted.object["status"] as? String == "active", "\(accepted.text)")

            let first = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: member.token, json: ["text": "Will I find a new job? 🔮", "clientMessageId": "m1"])
            #expect(first.status == 201 && first.object["seq"] as? Int == 1, "\(first.text)")
            let retried = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: member.token, json: ["text": "Will I find a new job? 🔮", "clientMessageId": "m1"])
            #expect(retried.status == 201 && retried.object["id"] as? String == first.object["id"] as? String, "a retry is the first answer")
            let answer = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: advisor.token, json: ["text": "The cards say spring.", "clientMessageId": "a1"])
            #expect(answer.object["seq"] as? Int == 2)
            for (field, value) in [("text", String(repeating: "x", count: 4001)), ("text", "   "), ("clientMessageId", "")] {
                var body = ["text": "hi", "clientMessageId": "m9"]
                body[field] = value
                let refused = try await platform.request("POST", "/v1/chats/\(chat)/messages", token: member.token, json: body)
                #expect(refused.status == 422, "\(field): \(refused.text)")
            }

            let intruder = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: stranger.token, json: ["text": "hi", "clientMessageId": "s1"])
            #expect(intruder.status == 404, "a third person cannot post: \(intruder.text)")
            #expect(try await platform.request("GET", "/v1/chats/\(chat)/messages", token: stranger.token).status == 404)
            #expect(try await platform.request("GET", "/v1/chats/\(chat)", token: stranger.token).status == 404)
            #expect(try await platform.request("GET", "/v1/chats", token: stranger.token).items.isEmpty)
            for token in [member.token, advisor.token] {
                let transcript = try await platform.request("GET", "/v1/chats/\(chat)/messages", token: token)
                #expect(transcript.items.map { $0["text"] as? String } == ["Will I find a new job? 🔮", "The cards say spring."])
            }
            let after = try await platform.request("GET", "/v1/chats/\(chat)/messages?after=1", token: member.token)
            #expect(after.items.map { $0["seq"] as? Int } == [2])

            let ended = try await platform.request("POST", "/v1/chats/\(chat)/end", token: member.token)
            #expect(ended.status == 200 && ended.object["endReason"] as? String == "member", "\(ended.text)")
            try await eventually("the advisor is free again") { try await Self.advisorStatus(platform, advisor.id) == "online" }
            let late = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: advisor.token, json: ["text": "One more thing", "clientMessageId": "a2"])
            #expect(late.status == 409)
            let history = try await platform.request("GET", "/v1/chats", token: advisor.token)
            #expect(history.items.first?["id"] as? String == chat && history.items.first?["lastSeq"] as? Int == 2)

            // The transcript is sealed: no message text anywhere in the chat schema.
            let chatSchema = Database(platform.harness.database.config(schema: "chat"), logger: Logger(label: "test"))
            let dump = try await chatSchema.withConnection { connection in
                try ["chats", "chat_keys", "messages", "outbox"].map { table in
                    try connection.queryOne("SELECT coalesce(string_agg(t::text, ' '), '') AS rows FROM \(table) t")?
                        .decode("rows", as: String.self) ?? ""
                }.joined(separator: "\n")
            }
            await chatSchema.close()
            #expect(!dump.contains("new job") && !dump.contains("spring"), "a dump of the chat schema holds no message text")
            #expect(dump.contains("chat.ended.v1"), "every transition is an event")
            #expect(dump.contains("chat.minute-started.v1"), "the first minute starts when the chat is accepted")
        }
    }

    @Test("two members racing for one advisor: one wins; an unanswered request expires and sets the advisor offline")
    func raceAndExpiry() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.hurried) { platform in
            let advisor = try await Self.onlineAdvisor(platform)
            let first = try await Self.member(platform)
            let second = try await Self.member(platform, name: "Second Member")
            async let one = platform.request("POST", "/v1/chats", token: first.token, json: ["advisorId": advisor.id])
            async let two = platform.request("POST", "/v1/chats", token: second.token, json: ["advisorId": advisor.id])
            let replies = try await [one, two]
            #expect(replies.map(\.status).sorted() == [201, 409], "\(replies.map(\.text))")
            #expect(replies.contains { $0.code == "advisor_busy" })
            let winner = replies[0].status == 201 ? first : second
            let chat = try #require(replies.first { $0.status == 201 }?.object["id"] as? String)

            // Nobody accepts within CHAT_ACCEPT_SECONDS: expired, and the advisor goes offline.
            try await eventually("the request expires") {
                try await platform.request("GET", "/v1/chats/\(chat)", token: winner.token).object["status"] as? String == "expired"
            }
            try await eventually("the advisor is set offline") { try await Self.advisorStatus(platform, advisor.id) == "offline" }
            let tooLate = try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token)
            #expect(tooLate.status == 409)
            let offline = try await platform.request("POST", "/v1/chats", token: second.token, json: ["advisorId": advisor.id])
            #expect(offline.status == 409 && offline.code == "advisor_offline")

            // The expired chat never began, so its free minutes were not used: the winner, with an
            // empty wallet, may ask the same advisor again. A declined request frees the advisor at once.
            #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: advisor.token, json: ["status": "online"]).status == 200)
            let again = try await platform.request("POST", "/v1/chats", token: winner.token, json: ["advisorId": advisor.id])
            let declinedChat = try #require(again.object["id"] as? String, "\(again.text)")
            let declined = try await platform.request("POST", "/v1/chats/\(declinedChat)/decline", token: advisor.token)
            #expect(declined.object["status"] as? String == "declined")
            try await eventually("online again after declining") { try await Self.advisorStatus(platform, advisor.id) == "online" }
            try await eventually("both free chats given back") {
                try await platform.request("GET", "/v1/me/wallet", token: winner.token).object["freeChatsLeft"] as? Int == 3
            }
        }
    }

    @Test("export holds the person's chats; erasing the member leaves the advisor their own words and a former member")
    func privacy() async throws {
        try await AccountsPlatform.with(serviceEnvironment: Self.environment) { platform in
            let advisor = try await Self.onlineAdvisor(platform)
            let member = try await Self.member(platform)
            let chat = try #require(
                try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id]).object["id"] as? String)
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
            _ = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: member.token, json: ["text": "My secret worry", "clientMessageId": "m1"])
            _ = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: advisor.token, json: ["text": "All will be well", "clientMessageId": "a1"])
            let export = try await platform.request("GET", "/v1/me/export", token: member.token)
            let section = (export.object["sections"] as? [String: Any])?["chat"] as? [String: Any]
            let exported = (section?["chats"] as? [[String: Any]])?.first
            #expect((exported?["messages"] as? [[String: Any]])?.count == 2, "\(export.text)")

            #expect(try await platform.request("DELETE", "/v1/me", token: member.token, json: ["password": AccountsPlatform.password]).status == 202)
            try await eventually("the member's words are gone from the advisor's transcript") {
                let transcript = try await platform.request("GET", "/v1/chats/\(chat)/messages", token: advisor.token)
                return transcript.items.map { $0["text"] as? String } == ["All will be well"]
            }
            let seen = try await platform.request("GET", "/v1/chats/\(chat)", token: advisor.token)
            #expect((seen.object["member"] as? [String: Any])?["displayName"] as? String == "former member", "\(seen.text)")
        }
    }

    @Test("silence ends a chat; billing's funds-exhausted ends one; support reads with a reason, in both access logs")
    func clockBillingAndStaff() async throws {
        // Silence ends a chat after 8 s here (5 minutes by default); the funds test sends at once.
        let environment: [ServiceName: [String: String]] = [.chat: ["CHAT_ACCEPT_SECONDS": "30", "CHAT_SILENCE_SECONDS": "8"]]
        try await AccountsPlatform.with(serviceEnvironment: environment) { platform in
            let advisor = try await Self.onlineAdvisor(platform)
            let member = try await Self.member(platform)
            let ask = { (advisor: (id: String, token: String)) async throws -> String in
                let reply = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
                let chat = try #require(reply.object["id"] as? String, "\(reply.text)")
                // Billing grants a new member's first chat with an advisor free minutes before it is accepted.
                try await eventually("billing has seen the request") {
                    try await platform.request("GET", "/v1/chats/\(chat)", token: member.token).object["freeMinutes"] as? Int == 3
                }
                #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
                return chat
            }

            // Both silent past CHAT_SILENCE_SECONDS: ended for timeout, the advisor free again.
            let quiet = try await ask(advisor)
            try await eventually("the silent chat ends", timeout: .seconds(20)) {
                try await platform.request("GET", "/v1/chats/\(quiet)", token: member.token).object["endReason"] as? String == "timeout"
            }
            try await eventually("the advisor is free") { try await Self.advisorStatus(platform, advisor.id) == "online" }

            // Billing says the member's funds ran out (a chat on free minutes, with another advisor).
            let second = try await Self.onlineAdvisor(platform, name: "Orion Blake")
            let funded = try await ask(second)
            _ = try await platform.request(
                "POST", "/v1/chats/\(funded)/messages", token: member.token, json: ["text": "Tell me more", "clientMessageId": "m1"])
            let billing = Database(platform.harness.database.config(schema: "billing"), logger: Logger(label: "test"))
            try await billing.transaction {
                try Outbox.append(Billing.FundsExhausted(chatId: try #require(UUID(uuidString: funded)), at: Date()), on: $0)
            }
            await billing.close()
            try await eventually("billing's word ends the chat") {
                try await platform.request("GET", "/v1/chats/\(funded)", token: member.token).object["endReason"] as? String
                    == "funds_exhausted"
            }
            let ended = try await platform.request("GET", "/v1/chats/\(funded)", token: member.token)
            #expect(ended.object["minutes"] as? Int == 1, "\(ended.text)")
            // Billing settles it: free minutes only, so nothing from the member's wallet.
            try await eventually("the history shows what the chat cost") {
                try await platform.request("GET", "/v1/chats", token: member.token).items.first?["costCents"] as? Int == 0
            }

            // Support reads the chat with a reason; both participants see it in their access logs.
            let support = try await platform.staffMember(role: "support")
            let path = "/v1/staff/chats/\(funded)/transcript?reason=Member%20complaint%20%23123"
            #expect(try await platform.request("GET", path, token: member.token).status == 403)
            #expect(try await platform.request("GET", "/v1/staff/chats/\(funded)/transcript", token: support).status == 422)
            let read = try await platform.request("GET", path, token: support)
            #expect(read.status == 200, "\(read.text)")
            #expect((read.object["messages"] as? [[String: Any]])?.first?["text"] as? String == "Tell me more")
            for token in [member.token, second.token] {
                let log = try await platform.request("GET", "/v1/me/access-log", token: token)
                #expect(
                    log.items.contains { $0["action"] as? String == "staff.chat-read" && $0["reason"] as? String == "Member complaint #123" },
                    "\(log.text)")
            }
        }
    }
}
