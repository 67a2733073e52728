import Foundation
import Logging
import Models
import Store
import NIOWebSocket
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `GET /v1/stream` through real gateways, broker and services, with real WebSocket clients
/// (docs/api.md "The stream").
@Suite(.serialized, .timeLimit(.minutes(4)))
struct StreamEndToEndTests {
    /// A member and an advisor in an accepted chat; the chat's id.
    static func activeChat(
        _ platform: AccountsPlatform, member: (id: String, token: String), advisor: (id: String, token: String)
    ) async throws -> String {
        let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
        let chat = try #require(requested.object["id"] as? String, "\(requested.text)")
        #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
        return chat
    }

    static func say(_ platform: AccountsPlatform, _ text: String, in chat: String, token: String, id: String) async throws -> Int {
        let sent = try await platform.request(
            "POST", "/v1/chats/\(chat)/messages", token: token, json: ["text": text, "clientMessageId": id])
        #expect(sent.status == 201, "\(sent.text)")
        return try #require(sent.object["seq"] as? Int)
    }

    @Test("a chat lived on the stream across two gateways; a third person sees nothing and cannot post")
    func liveChatAcrossGateways() async throws {
        try await AccountsPlatform.with(
            gatewayEnvironment: StreamClient.gatewayEnvironment, serviceEnvironment: ChatEndToEndTests.environment
        ) { platform in
            let other = try await platform.startGateway(environment: StreamClient.gatewayEnvironment)
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let stranger = try await ChatEndToEndTests.member(platform, name: "Nosy Neighbour")
            // The member on the first gateway by cookie, the advisor on the second by subprotocol.
            let memberStream = try await StreamClient.connect(platform.gateway, as: .cookie(member.token))
            let advisorStream = try await StreamClient.connect(other.url, as: .subprotocol(advisor.token))
            let strangerStream = try await StreamClient.connect(platform.gateway, as: .subprotocol(stranger.token))

            try memberStream.send(["type": "advisors.watch", "advisorIds": [advisor.id]])
            try await memberStream.next("watching") { $0["type"] as? String == "advisors.watching" }
            // The advisor's heartbeat over the stream keeps them online, as PUT /v1/advisors/me/status does.
            try advisorStream.send(["type": "presence.heartbeat"])
            let presence = try await advisorStream.next("the heartbeat's answer") { $0["type"] as? String == "presence" }
            #expect(presence["status"] as? String == "online" && presence["expiresAt"] is String, "\(presence)")
            let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
            let chat = try #require(requested.object["id"] as? String)
            let asked = try await advisorStream.next("the advisor is asked") { $0["type"] as? String == "chat.requested" }
            #expect(asked["chatId"] as? String == chat)
            #expect((asked["member"] as? [String: Any])?["displayName"] as? String == "Curious Cat")
            try await memberStream.next("the watched advisor is busy") {
                $0["type"] as? String == "advisor.status" && $0["advisorId"] as? String == advisor.id && $0["status"] as? String == "busy"
            }
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
            try await memberStream.next("accepted") { $0["type"] as? String == "chat.accepted" && $0["chatId"] as? String == chat }

            // Sent on the stream by the member: acknowledged to them, delivered to the advisor on the other gateway.
            try memberStream.send(["type": "chat.send", "chatId": chat, "text": "Is he the one? 💫", "clientMessageId": "s1"])
            let ack = try await memberStream.next("the send is acknowledged") { $0["type"] as? String == "chat.sent" }
            #expect((ack["message"] as? [String: Any])?["seq"] as? Int == 1)
            let delivered = try await advisorStream.next("the advisor gets it") { $0["type"] as? String == "chat.message" }
            #expect(delivered["text"] as? String == "Is he the one? 💫" && delivered["senderId"] as? String == member.id)
            // The same clientMessageId again: the first answer, one message.
            try memberStream.send(["type": "chat.send", "chatId": chat, "text": "Is he the one? 💫", "clientMessageId": "s1"])
            let again = try await memberStream.next("the retry is acknowledged") { $0["type"] as? String == "chat.sent" }
            #expect((again["message"] as? [String: Any])?["id"] as? String == (ack["message"] as? [String: Any])?["id"] as? String)
            let bad = try await { () async throws -> [String: Any] in
                try memberStream.send(["type": "chat.send", "chatId": chat, "text": "", "clientMessageId": "s2"])
                return try await memberStream.next("an empty message is refused") { $0["type"] as? String == "error" }
            }()
            #expect((bad["error"] as? [String: Any])?["status"] as? Int == 422, "\(bad)")

            try advisorStream.send(["type": "chat.typing", "chatId": chat])
            try await memberStream.next("typing") { $0["type"] as? String == "chat.typing" && $0["senderId"] as? String == advisor.id }
            try advisorStream.send(["type": "chat.read", "chatId": chat, "seq": 1])
            try await memberStream.next("read up to 1") { $0["type"] as? String == "chat.read" && $0["seq"] as? Int == 1 }
            _ = try await Self.say(platform, "Patience; spring brings news.", in: chat, token: advisor.token, id: "a1")
            try await memberStream.next("the advisor's answer") { $0["type"] as? String == "chat.message" && $0["seq"] as? Int == 2 }

            // The third person: cannot post or type into the chat, and was sent nothing of it.
            try strangerStream.send(["type": "chat.send", "chatId": chat, "text": "hi", "clientMessageId": "x1"])
            let refused = try await strangerStream.next("refused") { $0["type"] as? String == "error" }
            #expect((refused["error"] as? [String: Any])?["status"] as? Int == 404, "as if the chat did not exist: \(refused)")
            try strangerStream.send(["type": "chat.follow", "chatId": chat, "seq": 0])
            try await strangerStream.next("cannot follow it") { $0["type"] as? String == "error" && $0["chatId"] as? String == chat }

            #expect(try await platform.request("POST", "/v1/chats/\(chat)/end", token: member.token).status == 200)
            for stream in [memberStream, advisorStream] {
                let ended = try await stream.next("ended") { $0["type"] as? String == "chat.ended" }
                #expect(ended["reason"] as? String == "member")
            }
            #expect(memberStream.sequence(of: chat) == [1, 2], "their own message too, for their other devices, once")
            #expect(advisorStream.sequence(of: chat) == [1, 2])
            let transcript = try await platform.request("GET", "/v1/chats/\(chat)/messages", token: member.token)
            #expect(transcript.items.count == 2, "one stored message per clientMessageId")
            #expect(!strangerStream.received.contains { ($0["chatId"] as? String) == chat && $0["type"] as? String != "error" })
            #expect(!strangerStream.received.contains { "\($0)".contains("spring") || "\($0)".contains("the one") })
            for stream in [memberStream, advisorStream, strangerStream] { stream.close() }
        }
    }

    @Test("who may open the stream: signed in, from an allowed origin; refusals say why; a plain GET is told to upgrade")
    func admission() async throws {
        try await AccountsPlatform.with(
            gatewayEnvironment: ["GATEWAY_ALLOWED_ORIGINS": "https://app.example.com, ws://127.0.0.1"]
        ) { platform in
            let member = try await ChatEndToEndTests.member(platform)
            // Refusals read off the wire: 101, then at once a close frame with the code.
            let refusal = { (query: String, headers: [String: String]) async throws -> Int? in
                var upgrade = [
                    "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                ]
                upgrade.merge(headers) { $1 }
                let answer = try await platform.request("GET", "/v1/stream" + query, headers: upgrade)
                let frame = [UInt8](answer.answer.body)
                guard answer.status == 101, frame.count >= 4, frame[0] == 0x88 else { return nil }
                #expect(!frame.contains(UInt8(ascii: "{")), "a refused connection is sent nothing but its close")
                return Int(frame[2]) << 8 | Int(frame[3])
            }
            #expect(try await refusal("", [:]) == 4401, "signed out")
            #expect(try await refusal("?token=\(member.token)", [:]) == 4401, "a token in the URL opens nothing")
            #expect(
                try await refusal("", ["Cookie": "session=\(member.token)", "Origin": "https://evil.example"]) == 4403,
                "cross-site WebSocket hijacking is refused")
            #expect(try await refusal("?after=nonsense", ["Cookie": "session=\(member.token)"]) == 4422)
            #expect(try await refusal("", ["Sec-WebSocket-Protocol": "advisor-stream.v1, bearer.not-a-token"]) == 4401)

            // The same answers, as problems, for a plain request.
            #expect(try await platform.request("GET", "/v1/stream").status == 401)
            let foreign = try await platform.request("GET", "/v1/stream", token: member.token, headers: ["Origin": "https://evil.example"])
            #expect(foreign.status == 403, "\(foreign.text)")
            #expect(try await platform.request("GET", "/v1/stream?after=nonsense", token: member.token).status == 422)
            let plain = try await platform.request("GET", "/v1/stream", token: member.token)
            #expect(plain.status == 426 && plain.code == "upgrade_required" && plain.headers["upgrade"] == "websocket", "\(plain.text)")

            let allowed = try await StreamClient.connect(
                platform.gateway, as: .cookie(member.token), headers: ["Origin": "https://app.example.com"])
            try allowed.send(["type": "ping"])
            try await allowed.next("pong") { $0["type"] as? String == "pong" }
            try allowed.send(["type": "no.such.thing"])
            try await allowed.next("an unknown type is an error, not a close") { $0["type"] as? String == "error" }
            allowed.close()
        }
    }

    @Test("a gateway killed mid-chat: the client resumes on the other with nothing lost; chat killed -9: nothing lost or doubled")
    func survivesCrashes() async throws {
        try await AccountsPlatform.with(
            gatewayEnvironment: StreamClient.gatewayEnvironment, serviceEnvironment: ChatEndToEndTests.environment
        ) { platform in
            let first = try await platform.startGateway(environment: StreamClient.gatewayEnvironment)
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let chat = try await Self.activeChat(platform, member: member, advisor: advisor)
            let memberStream = try await StreamClient.connect(first.url, as: .subprotocol(member.token), query: "?after=\(chat):0")
            for index in 1...3 { _ = try await Self.say(platform, "before \(index)", in: chat, token: advisor.token, id: "b\(index)") }
            try await memberStream.next("three messages") { $0["type"] as? String == "chat.message" && $0["seq"] as? Int == 3 }

            first.process.signal(SIGKILL)
            _ = try await memberStream.closed()
            for index in 4...6 { _ = try await Self.say(platform, "while away \(index)", in: chat, token: advisor.token, id: "w\(index)") }
            let resumed = try await StreamClient.connect(platform.gateway, as: .cookie(member.token), query: "?after=\(chat):3")
            _ = try await Self.say(platform, "live 7", in: chat, token: advisor.token, id: "l7")
            try await resumed.next("the live message after the missed ones") { $0["type"] as? String == "chat.message" && $0["seq"] as? Int == 7 }
            #expect(resumed.sequence(of: chat) == [4, 5, 6, 7], "exactly what it missed, in order, once")

            // The chat service dies mid-chat; the member retries their send until it answers.
            let chatProcess = try #require(platform.harness.processes(of: "chat").first)
            chatProcess.signal(SIGKILL)
            _ = try await chatProcess.waitForExit()
            try await platform.harness.startService(
                "chat", schema: "chat", environment: ChatEndToEndTests.environment[.chat] ?? [:])
            var stored: Int?
            for _ in 0..<100 where stored == nil {
                let reply = try await platform.request(
                    "POST", "/v1/chats/\(chat)/messages", token: member.token, json: ["text": "still there?", "clientMessageId": "r8"])
                if reply.status == 201 { stored = reply.object["seq"] as? Int }
            }
            #expect(stored == 8)
            _ = try await Self.say(platform, "yes, 9", in: chat, token: advisor.token, id: "y9")
            try await resumed.next("after the restart") { $0["type"] as? String == "chat.message" && $0["seq"] as? Int == 9 }
            #expect(resumed.sequence(of: chat) == [4, 5, 6, 7, 8, 9])
            let transcript = try await platform.request("GET", "/v1/chats/\(chat)/messages", token: member.token)
            #expect(transcript.items.compactMap { $0["seq"] as? Int } == Array(1...9), "nothing lost or doubled: \(transcript.text)")
            resumed.close()
        }
    }

    @Test("a client that stops reading is closed with 4000 and resumes without loss; the others stay fast")
    func slowClient() async throws {
        try await AccountsPlatform.with(
            // The close frame waits behind what the slow client has not read until it reads again,
            // after the 150 messages below: on a loaded machine that took longer than the default 5 s.
            gatewayEnvironment: StreamClient.gatewayEnvironment.merging(["GATEWAY_STREAM_QUEUE": "8", "GATEWAY_STREAM_CLOSE_SECONDS": "120"]) { $1 },
            serviceEnvironment: ChatEndToEndTests.environment
        ) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let chat = try await Self.activeChat(platform, member: member, advisor: advisor)
            let slow = try await StreamClient.connect(platform.gateway, as: .cookie(member.token), query: "?after=\(chat):0")
            let fast = try await StreamClient.connect(platform.gateway, as: .cookie(advisor.token), query: "?after=\(chat):0")
            slow.pauseReading()
            // 4,000 characters of four bytes each: the socket's buffers fill after a few dozen.
            let long = String(repeating: "🌙", count: 3_990)
            let last = 150
            for index in 1...last {
                let seq = try await Self.say(platform, "\(index): \(long)", in: chat, token: advisor.token, id: "m\(index)")
                try await fast.next("the fast client keeps up") { $0["type"] as? String == "chat.message" && $0["seq"] as? Int == seq }
            }
            slow.resumeReading()
            let code = try await slow.closed()
            #expect(code == .unknown(4000), "closed with the resume code, got \(String(describing: code))")
            let seen = slow.sequence(of: chat)
            #expect(seen == Array(1...(seen.last ?? 0)) && seen.count < last, "in order up to where it fell behind: \(seen)")
            let resumed = try await StreamClient.connect(
                platform.gateway, as: .cookie(member.token), query: "?after=\(chat):\(seen.last ?? 0)")
            // What it missed comes before `ready`.
            #expect(seen + resumed.sequence(of: chat) == Array(1...last), "nothing lost, nothing twice")
            #expect(fast.sequence(of: chat) == Array(1...last))
            fast.close()
            resumed.close()
        }
    }

    /// Publishes `event` as billing does: through billing's outbox.
    static func billingSays(_ platform: AccountsPlatform, _ event: some DomainEvent) async throws {
        let billing = Database(platform.harness.database.config(schema: "billing"), logger: Logger(label: "test"))
        try await billing.transaction { try Outbox.append(event, on: $0) }
        await billing.close()
    }

    /// Runs SQL on the chat schema (to move a chat's clock, or read its outbox).
    static func chatSQL(_ platform: AccountsPlatform, _ sql: String, _ chat: UUID) async throws -> String {
        let database = Database(platform.harness.database.config(schema: "chat"), logger: Logger(label: "test"))
        let text = try await database.withConnection { try $0.queryOne(sql, chat)?.decode("result", as: String?.self) ?? "" }
        await database.close()
        return text
    }

    @Test("billing's word on a chat: free minutes marked where the paid phase begins, minute left, pause (not billed, no messages) and resumption, a pause too long ends it")
    func billingContract() async throws {
        try await AccountsPlatform.with(
            gatewayEnvironment: StreamClient.gatewayEnvironment,
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "60", "CHAT_PAUSE_SECONDS": "5"], .billing: ["BILLING_FREE_MINUTES": "1"]]
        ) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            // The paid minutes are paid: the pause and its end are billing's word, not an empty wallet.
            try await BillingEndToEndTests.fund(platform, member: member.id, cents: 10_000)
            let memberStream = try await StreamClient.connect(platform.gateway, as: .cookie(member.token))
            let advisorStream = try await StreamClient.connect(platform.gateway, as: .cookie(advisor.token))
            let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
            let chat = try #require(requested.object["id"] as? String)
            let chatId = try #require(UUID(uuidString: chat))
            // Billing grants the new member's first chat its free minute (BILLING_FREE_MINUTES).
            try await eventually("the chat knows its free minute") {
                try await platform.request("GET", "/v1/chats/\(chat)", token: member.token).object["freeMinutes"] as? Int == 1
            }
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
            _ = try await Self.say(platform, "Is the first minute free?", in: chat, token: member.token, id: "f1")

            // A minute later (the clock moved by a minute), the paid phase begins after message 1.
            try await BillingEndToEndTests.age(platform, chat: chatId, by: 60)
            for stream in [memberStream, advisorStream] {
                let marked = try await stream.next("the paid phase") { $0["type"] as? String == "chat.paid-phase" }
                #expect(marked["afterSeq"] as? Int == 1)
            }
            let page = try await platform.request("GET", "/v1/chats/\(chat)/messages", token: advisor.token)
            #expect(page.object["paidPhaseAfterSeq"] as? Int == 1, "\(page.text)")
            let minutes = try await Self.chatSQL(
                platform,
                """
                SELECT string_agg((payload ->> 'minute') || ':' || (payload ->> 'free'), ',' ORDER BY id) AS result
                FROM outbox WHERE type = 'chat.minute-started.v1' AND (payload ->> 'chatId')::uuid = $1
                """, chatId)
            #expect(minutes == "1:true,2:false", "minute 1 free, minute 2 paid: \(minutes)")

            try await Self.billingSays(platform, Billing.MinuteLeft(chatId: chatId, balanceCents: 180, at: Date()))
            for stream in [memberStream, advisorStream] {
                let left = try await stream.next("a minute left") { $0["type"] as? String == "billing.minute-left" }
                #expect(left["balanceCents"] as? Int == 180)
            }
            try await Self.billingSays(platform, Billing.ChatPaused(chatId: chatId, at: Date()))
            try await memberStream.next("paused") { $0["type"] as? String == "billing.paused" }
            try await advisorStream.next("paused") { $0["type"] as? String == "billing.paused" }
            // Pushes are hints that may leave before the chat service's commit (docs/decisions.md).
            try await eventually("the chat reads paused") {
                try await platform.request("GET", "/v1/chats/\(chat)", token: member.token).object["paused"] as? Bool == true
            }
            let hushed = try await platform.request(
                "POST", "/v1/chats/\(chat)/messages", token: advisor.token, json: ["text": "Still there?", "clientMessageId": "p1"])
            #expect(hushed.status == 409, "nothing is said while paused: \(hushed.text)")
            try await eventually("two seconds of pause") {
                try await Self.chatSQL(platform, "SELECT (paused_at < now() - interval '2 seconds')::text AS result FROM chats WHERE id = $1", chatId) == "true"
            }
            try await Self.billingSays(platform, Billing.ChatResumed(chatId: chatId, at: Date()))
            try await memberStream.next("resumed") { $0["type"] as? String == "billing.resumed" }
            try await eventually("the chat reads resumed") {
                try await platform.request("GET", "/v1/chats/\(chat)", token: member.token).object["paused"] as? Bool == false
            }
            let unbilled = try await Self.chatSQL(platform, "SELECT paused_seconds::text AS result FROM chats WHERE id = $1", chatId)
            #expect((Int(unbilled) ?? 0) >= 2, "the pause is taken off the chat's clock: \(unbilled)")
            _ = try await Self.say(platform, "Funds added, go on.", in: chat, token: member.token, id: "f2")

            // Paused past CHAT_PAUSE_SECONDS: the chat ends, funds exhausted.
            try await Self.billingSays(platform, Billing.ChatPaused(chatId: chatId, at: Date()))
            for stream in [memberStream, advisorStream] {
                let ended = try await stream.next("a pause too long ends the chat", timeout: .seconds(30)) { $0["type"] as? String == "chat.ended" }
                #expect(ended["reason"] as? String == "funds_exhausted")
            }
            let announced = try await Self.chatSQL(
                platform,
                """
                SELECT (payload ->> 'minutes') || ':' || (payload ->> 'freeMinutes') AS result
                FROM outbox WHERE type = 'chat.ended.v1' AND (payload ->> 'chatId')::uuid = $1
                """, chatId)
            #expect(announced == "2:1", "chat.ended.v1 says the minutes and how many were free: \(announced)")
            memberStream.close()
            advisorStream.close()
        }
    }
}
