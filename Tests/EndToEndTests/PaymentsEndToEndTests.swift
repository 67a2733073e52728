import Foundation
import Logging
import Models
import PlatformSecurity
import Store
import Testing
import TestSupport

/// Money in through the payment processor: saved cards and top-ups through the real gateway,
/// billing, the integration service and the sandbox processor, with the processor's faults
/// (docs/api.md "Billing").
@Suite(.serialized, .timeLimit(.minutes(4)))
struct PaymentsEndToEndTests {
    /// Tokenizes a card at the sandbox, as a processor's browser library would; the token.
    static func token(_ platform: AccountsPlatform, card number: String) async throws -> String {
        let sandbox = try #require(platform.payments).sandbox
        let body = try JSONSerialization.data(withJSONObject: ["number": number, "expMonth": 12, "expYear": 2031, "cvc": "123"])
        let answer = try #require(
            await HTTP.request("POST", sandbox + "/v1/tokens", headers: ["Content-Type": "application/json"], body: body))
        let object = try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])
        return try #require(object["id"] as? String, "\(object)")
    }

    /// Saves `number` as a card of the member signed in with `token`; its id.
    static func saveCard(_ platform: AccountsPlatform, _ number: String, for token: String) async throws -> String {
        let saved = try await platform.request(
            "POST", "/v1/me/payment-methods", token: token, json: ["processorToken": try await Self.token(platform, card: number)])
        #expect(saved.status == 201, "\(saved.text)")
        return try #require(saved.object["id"] as? String, "\(saved.text)")
    }

    static func topUp(
        _ platform: AccountsPlatform, cents: Int, card: String, key: String = UUID().uuidString, token: String
    ) async throws -> Reply {
        try await platform.request(
            "POST", "/v1/me/top-ups", token: token, json: ["amountCents": cents, "paymentMethodId": card], headers: ["Idempotency-Key": key])
    }

    static func balance(_ platform: AccountsPlatform, _ token: String) async throws -> Int? {
        try await platform.request("GET", "/v1/me/wallet", token: token).object["balanceCents"] as? Int
    }

    /// The webhooks the sandbox sent, oldest first.
    static func sentEvents(_ platform: AccountsPlatform) async throws -> [[String: Any]] {
        let sandbox = try #require(platform.payments).sandbox
        let answer = try #require(await HTTP.get(sandbox + "/sandbox/events"))
        return try #require(try JSONSerialization.jsonObject(with: answer.body) as? [[String: Any]])
    }

    static func setFaults(_ platform: AccountsPlatform, _ faults: [String: Any]) async throws {
        let sandbox = try #require(platform.payments).sandbox
        let answer = await HTTP.request(
            "POST", sandbox + "/sandbox/faults", headers: ["Content-Type": "application/json"],
            body: try JSONSerialization.data(withJSONObject: faults))
        #expect(answer?.status == 200)
    }

    static func ledgerIsExact(_ platform: AccountsPlatform) async throws {
        let command = try PlatformProcess("platform", arguments: ["ledger-check"], environment: platform.harness.bus)
        defer { command.stop() }
        #expect(try await command.waitForExit(timeout: .seconds(30)) == 0, "\(command.log())")
    }

    @Test("a card saved by token tops up the wallet; one key sent twice at once charges once; another body, a stranger's card, declines")
    func topUps() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let member = try await ChatEndToEndTests.member(platform)
            let stranger = try await ChatEndToEndTests.member(platform, name: "Stranger")
            let token = try await Self.token(platform, card: "4242 4242 4242 4242")
            let saved = try await platform.request("POST", "/v1/me/payment-methods", token: member.token, json: ["processorToken": token])
            #expect(saved.status == 201, "\(saved.text)")
            #expect(saved.object["brand"] as? String == "visa" && saved.object["last4"] as? String == "4242", "\(saved.text)")
            #expect(!saved.text.contains("4242424242424242") && !saved.text.contains("pm_"), "no number, no processor reference")
            let card = try #require(saved.object["id"] as? String)
            let reused = try await platform.request("POST", "/v1/me/payment-methods", token: member.token, json: ["processorToken": token])
            #expect(reused.status == 409 && reused.code == "card_token_used", "a token is used once: \(reused.text)")
            let unknown = try await platform.request("POST", "/v1/me/payment-methods", token: member.token, json: ["processorToken": "tok_nosuch"])
            #expect(unknown.status == 404 && unknown.code == "card_token_not_found", "\(unknown.text)")
            #expect(try await platform.request("GET", "/v1/me/payment-methods", token: member.token).items.count == 1)
            #expect(try await platform.request("GET", "/v1/me/payment-methods", token: stranger.token).items.isEmpty)

            let unkeyed = try await platform.request(
                "POST", "/v1/me/top-ups", token: member.token, json: ["amountCents": 2000, "paymentMethodId": card])
            #expect(unkeyed.status == 400, "\(unkeyed.text)")
            #expect(try await Self.topUp(platform, cents: 10, card: card, token: member.token).status == 422)
            #expect(try await Self.topUp(platform, cents: 2000, card: card, token: stranger.token).status == 404, "a stranger's card")

            // The same key twice at once: one charge, one answer.
            async let first = Self.topUp(platform, cents: 2500, card: card, key: "double-click", token: member.token)
            async let second = Self.topUp(platform, cents: 2500, card: card, key: "double-click", token: member.token)
            let answers = try await [first, second]
            #expect(answers.map(\.status) == [201, 201], "\(answers.map(\.text))")
            #expect(answers[0].object["id"] as? String == answers[1].object["id"] as? String)
            #expect(answers[0].object["status"] as? String == "succeeded", "\(answers[0].text)")
            #expect(try await Self.balance(platform, member.token) == 2500)
            let again = try await Self.topUp(platform, cents: 2500, card: card, key: "double-click", token: member.token)
            #expect(again.status == 201 && again.object["id"] as? String == answers[0].object["id"] as? String, "a replay is the first answer")
            let changed = try await Self.topUp(platform, cents: 3000, card: card, key: "double-click", token: member.token)
            #expect(changed.status == 422 && changed.code == "idempotency_key_reused", "\(changed.text)")
            try await eventually("the processor's webhook came and changed nothing") {
                try await Self.sentEvents(platform).contains { $0["type"] as? String == "payment_intent.succeeded" }
            }
            let charges = try await Self.sentEvents(platform).filter { $0["type"] as? String == "payment_intent.succeeded" }
            #expect(charges.count == 1, "the processor charged once")
            #expect(try await Self.balance(platform, member.token) == 2500)
            let statement = try await platform.request("GET", "/v1/me/statement", token: member.token)
            #expect(statement.items.first?["kind"] as? String == "top-up" && statement.items.first?["amountCents"] as? Int == 2500)

            // Declines: nothing moves, and the answer says why.
            for (number, reason) in [("4000000000000002", "generic_decline"), ("4000000000009995", "insufficient_funds")] {
                let declining = try await Self.saveCard(platform, number, for: member.token)
                let declined = try await Self.topUp(platform, cents: 1000, card: declining, token: member.token)
                #expect(declined.status == 402 && declined.code == "card_declined", "\(declined.text)")
                #expect((declined.object["detail"] as? String)?.contains(reason) == true, "\(declined.text)")
            }
            #expect(try await Self.balance(platform, member.token) == 2500)

            // A card goes; a member's export names their cards by brand and last four only.
            let export = try await platform.request("GET", "/v1/me/export", token: member.token)
            let section = (export.object["sections"] as? [String: Any])?["billing"] as? [String: Any]
            #expect((section?["paymentMethods"] as? [[String: Any]])?.count == 3, "\(export.text.prefix(2000))")
            #expect((section?["topUps"] as? [[String: Any]])?.count == 3)
            #expect(try await platform.request("DELETE", "/v1/me/payment-methods/\(card)", token: stranger.token).status == 404)
            #expect(try await platform.request("DELETE", "/v1/me/payment-methods/\(card)", token: member.token).status == 204)
            #expect(try await platform.request("GET", "/v1/me/payment-methods", token: member.token).items.count == 2)

            // The schema holds no card reference in clear.
            let billing = Database(platform.harness.database.config(schema: "billing"), logger: Logger(label: "test"))
            let dump = try await billing.withConnection { connection in
                try connection.queryOne("SELECT coalesce(string_agg(t::text, ' '), '') AS rows FROM payment_methods t")?
                    .decode("rows", as: String.self) ?? ""
            }
            await billing.close()
            #expect(!dump.isEmpty && !dump.contains("pm_"), "saved cards' processor references are sealed")
            try await Self.ledgerIsExact(platform)
        }
    }

    @Test("a processor that times out leaves the top-up pending until its late webhook; duplicates and forgeries change nothing")
    func timeoutsAndWebhooks() async throws {
        try await AccountsPlatform.with(
            // The dispute and the late webhook come seconds after the answers the test checks first, so a
            // loaded machine still sees the state before them.
            payments: true, sandboxEnvironment: ["SANDBOX_DISPUTE_SECONDS": "3"], integrationEnvironment: ["PROCESSOR_TIMEOUT_SECONDS": "1"]
        ) { platform in
            let member = try await ChatEndToEndTests.member(platform)
            let card = try await Self.saveCard(platform, "4242424242424242", for: member.token)
            try await Self.setFaults(platform, ["delayedAnswers": 1, "answerDelaySeconds": 3, "webhookDelaySeconds": 4])
            let pending = try await Self.topUp(platform, cents: 1500, card: card, key: "slow", token: member.token)
            #expect(pending.status == 201 && pending.object["status"] as? String == "pending", "\(pending.text)")
            let id = try #require(pending.object["id"] as? String)
            #expect(try await Self.balance(platform, member.token) == 0, "never guessed")
            try await eventually("the late webhook decides it") {
                try await platform.request("GET", "/v1/me/top-ups/\(id)", token: member.token).object["status"] as? String == "succeeded"
            }
            #expect(try await Self.balance(platform, member.token) == 1500)
            let replay = try await Self.topUp(platform, cents: 1500, card: card, key: "slow", token: member.token)
            #expect(replay.object["status"] as? String == "pending", "the first answer, given again")

            // The same webhook delivered again (as processors do) changes nothing.
            try await Self.setFaults(platform, [:])
            let succeeded = try #require(try await Self.sentEvents(platform).first { $0["type"] as? String == "payment_intent.succeeded" })
            let eventId = try #require(succeeded["id"] as? String)
            let sandbox = try #require(platform.payments).sandbox
            let resent = await HTTP.request("POST", sandbox + "/sandbox/events/\(eventId)/resend", body: nil)
            #expect(resent?.status == 200)
            #expect(try await Self.balance(platform, member.token) == 1500)

            // Forged: an unsigned dispute, one signed with another secret, one signed too long ago.
            let integration = try #require(platform.payments).integration + "/webhooks/processor"
            let paymentId = try #require(((succeeded["data"] as? [String: Any])?["object"] as? [String: Any])?["id"] as? String)
            let forged = try JSONSerialization.data(withJSONObject: [
                "id": "evt_forged", "type": "charge.dispute.created",
                "data": ["object": ["id": "dp_forged", "amount": 1500, "payment_intent": paymentId]],
            ])
            let signatures = [
                nil, WebhookSignature.header(for: forged, secret: "whsec_guess"),
                WebhookSignature.header(for: forged, secret: AccountsPlatform.Payments.webhookSecret, at: Date().addingTimeInterval(-600)),
            ]
            for signature in signatures {
                var headers = ["Content-Type": "application/json"]
                headers["Stripe-Signature"] = signature
                let refused = await HTTP.request("POST", integration, headers: headers, body: forged)
                #expect(refused?.status == 400, "\(signature ?? "unsigned")")
            }
            #expect(try await Self.balance(platform, member.token) == 1500)

            // A real dispute (the test card that is disputed later) takes its money back.
            let disputed = try await Self.saveCard(platform, "4000000000000259", for: member.token)
            #expect(try await Self.topUp(platform, cents: 1000, card: disputed, token: member.token).object["status"] as? String == "succeeded")
            #expect(try await Self.balance(platform, member.token) == 2500)
            try await eventually("the dispute moves the money out of the wallet") { try await Self.balance(platform, member.token) == 1500 }
            let statement = try await platform.request("GET", "/v1/me/statement", token: member.token)
            #expect(statement.items.first?["kind"] as? String == "dispute" && statement.items.first?["amountCents"] as? Int == -1000)
            try await Self.ledgerIsExact(platform)
        }
    }

    @Test("a refund made at the processor leaves the wallet once, however often it is told; one of money already spent flags the wallet")
    func processorRefunds() async throws {
        try await AccountsPlatform.with(
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "30"], .billing: ["BILLING_FREE_MINUTES": "0"]], payments: true
        ) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let card = try await Self.saveCard(platform, "4242424242424242", for: member.token)
            let first = try await Self.topUp(platform, cents: 2000, card: card, token: member.token)
            let second = try await Self.topUp(platform, cents: 1000, card: card, token: member.token)
            #expect(try await Self.balance(platform, member.token) == 3000)
            func paymentIntent(of topUp: Reply) async throws -> String {
                let reference = try #require(topUp.object["id"] as? String).lowercased()
                let event = try #require(try await Self.sentEvents(platform).first {
                    let object = ($0["data"] as? [String: Any])?["object"] as? [String: Any]
                    return $0["type"] as? String == "payment_intent.succeeded"
                        && (object?["metadata"] as? [String: String])?["reference"]?.lowercased() == reference
                })
                return try #require(((event["data"] as? [String: Any])?["object"] as? [String: Any])?["id"] as? String)
            }
            // Finance refunds part of the first top-up at the processor, as from its dashboard.
            let sandbox = try #require(platform.payments).sandbox
            func refund(_ form: String) async -> Int? {
                await HTTP.request(
                    "POST", sandbox + "/v1/refunds",
                    headers: [
                        "Authorization": "Bearer \(AccountsPlatform.Payments.secretKey)", "Content-Type": "application/x-www-form-urlencoded",
                        "Idempotency-Key": UUID().uuidString,
                    ], body: Data(form.utf8))?.status
            }
            let firstIntent = try await paymentIntent(of: first)
            #expect(await refund("payment_intent=\(firstIntent)&amount=500") == 200)
            try await eventually("the refund leaves the wallet") { try await Self.balance(platform, member.token) == 2500 }
            let statement = try await platform.request("GET", "/v1/me/statement", token: member.token)
            #expect(statement.items.first?["kind"] as? String == "card-refund" && statement.items.first?["amountCents"] as? Int == -500)
            #expect(await refund("payment_intent=\(firstIntent)&amount=1501") == 400, "no more than what is left")

            // Told twice (as processors do), it is applied once.
            let told = try #require(try await Self.sentEvents(platform).last { $0["type"] as? String == "refund.created" })
            let resent = await HTTP.request("POST", sandbox + "/sandbox/events/\(try #require(told["id"] as? String))/resend", body: nil)
            #expect(resent?.status == 200)
            #expect(try await Self.balance(platform, member.token) == 2500)

            // Money spent on a chat (249), then everything left refunded to the card anyway: the
            // wallet goes below zero flagged for finance, and the ledger still balances.
            _ = try await Self.paidChat(platform, member: member.token, advisor: advisor)
            #expect(await refund("payment_intent=\(firstIntent)") == 200)
            #expect(await refund("payment_intent=\(try await paymentIntent(of: second))") == 200)
            try await eventually("both refunds leave the wallet") { try await Self.balance(platform, member.token) == -249 }
            let finance = try await platform.staffMember(role: "finance")
            let check = try await platform.request("GET", "/v1/staff/ledger/check", token: finance).object
            #expect(check["ok"] as? Bool == true && (check["negativeWallets"] as? [String])?.isEmpty == true, "\(check)")
            try await Self.ledgerIsExact(platform)
        }
    }

    @Test("a top-up whose webhook never comes is decided by billing asking the processor again with the same key: charged once")
    func reconciliation() async throws {
        try await AccountsPlatform.with(
            serviceEnvironment: [.billing: ["BILLING_RECONCILE_SECONDS": "2"]], payments: true,
            sandboxEnvironment: ["SANDBOX_PROCESSOR_WEBHOOK_URL": ""], integrationEnvironment: ["PROCESSOR_TIMEOUT_SECONDS": "1"]
        ) { platform in
            let member = try await ChatEndToEndTests.member(platform)
            let card = try await Self.saveCard(platform, "5555555555554444", for: member.token)
            try await Self.setFaults(platform, ["delayedAnswers": 1, "answerDelaySeconds": 3])
            let pending = try await Self.topUp(platform, cents: 4000, card: card, token: member.token)
            #expect(pending.object["status"] as? String == "pending", "\(pending.text)")
            let id = try #require(pending.object["id"] as? String)
            try await eventually("billing asks again and the processor's first answer decides it") {
                try await platform.request("GET", "/v1/me/top-ups/\(id)", token: member.token).object["status"] as? String == "succeeded"
            }
            #expect(try await Self.balance(platform, member.token) == 4000)
            try await Self.ledgerIsExact(platform)
        }
    }

    @Test("each paid minute is held before it starts; a minute the wallet cannot pay pauses the chat, and a top-up resumes it")
    func holdsPauseAndResume() async throws {
        try await AccountsPlatform.with(
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "30"], .billing: ["BILLING_FREE_MINUTES": "0"]], payments: true
        ) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let card = try await Self.saveCard(platform, "4242424242424242", for: member.token)
            #expect(try await Self.topUp(platform, cents: 500, card: card, token: member.token).status == 201)
            func wallet() async throws -> (balance: Int?, held: Int?, available: Int?) {
                let object = try await platform.request("GET", "/v1/me/wallet", token: member.token).object
                return (object["balanceCents"] as? Int, object["heldCents"] as? Int, object["availableCents"] as? Int)
            }

            // 249 a minute: asking holds the first minute.
            let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
            let chat = try #require(requested.object["id"] as? String, "\(requested.text)")
            let chatId = try #require(UUID(uuidString: chat))
            #expect(try await wallet() == (500, 249, 251))
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
            try await eventually("minute 1 is charged from its hold and minute 2 held") { try await wallet() == (251, 249, 2) }

            try await BillingEndToEndTests.age(platform, chat: chatId, by: 60)
            try await eventually("minute 2 is charged; minute 3 cannot be held") { try await wallet() == (2, 0, 2) }
            try await BillingEndToEndTests.age(platform, chat: chatId, by: 60)
            try await eventually("minute 3 cannot be paid: the chat pauses") {
                try await platform.request("GET", "/v1/chats/\(chat)", token: member.token).object["paused"] as? Bool == true
            }
            #expect(try await wallet() == (2, 0, 2), "nothing charged for the unpaid minute")

            // Funds arrive: the unpaid minute is charged, the chat runs again, the next is held.
            #expect(try await Self.topUp(platform, cents: 500, card: card, token: member.token).status == 201)
            try await eventually("the chat resumes") {
                try await platform.request("GET", "/v1/chats/\(chat)", token: member.token).object["paused"] as? Bool == false
            }
            #expect(try await wallet() == (253, 249, 4))
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/end", token: member.token).status == 200)
            try await eventually("the end voids the hold of a minute that will not start") { try await wallet() == (253, 0, 253) }
            let minutes = try await platform.request("GET", "/v1/me/statement", token: member.token).items.filter {
                $0["kind"] as? String == "chat-minute"
            }
            #expect(minutes.count == 3 && minutes.allSatisfy { $0["amountCents"] as? Int == -249 }, "\(minutes)")
            try await Self.ledgerIsExact(platform)
        }
    }

    /// A chat of one paid minute (249 cents) between `member` and `advisor`, ended; its id.
    static func paidChat(_ platform: AccountsPlatform, member: String, advisor: (id: String, token: String)) async throws -> String {
        let requested = try await platform.request("POST", "/v1/chats", token: member, json: ["advisorId": advisor.id])
        let chat = try #require(requested.object["id"] as? String, "\(requested.text)")
        #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
        try await eventually("the first minute is charged") {
            try await platform.request("GET", "/v1/me/statement", token: member).items.contains { $0["chatId"] as? String == chat }
        }
        #expect(try await platform.request("POST", "/v1/chats/\(chat)/end", token: member).status == 200)
        try await eventually("the chat is settled") {
            try await platform.request("GET", "/v1/chats/\(chat)", token: member).object["costCents"] as? Int == 249
        }
        return chat
    }

    @Test("the satisfaction guarantee: approved once, declined by each rule, overridden by finance with a reason the member sees")
    func refunds() async throws {
        try await AccountsPlatform.with(
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "30"], .billing: ["BILLING_FREE_MINUTES": "0"]], payments: true
        ) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let stranger = try await ChatEndToEndTests.member(platform, name: "Stranger")
            let card = try await Self.saveCard(platform, "4242424242424242", for: member.token)
            #expect(try await Self.topUp(platform, cents: 2000, card: card, token: member.token).status == 201)
            let first = try await Self.paidChat(platform, member: member.token, advisor: advisor)
            #expect(try await Self.balance(platform, member.token) == 2000 - 249)

            let ask = ["reason": "The reading did not help me."]
            #expect(try await platform.request("POST", "/v1/chats/\(first)/refund-requests", token: stranger.token, json: ask).status == 404)
            #expect(try await platform.request("POST", "/v1/chats/\(first)/refund-requests", token: member.token, json: ["reason": "  "]).status == 422)
            let approved = try await platform.request("POST", "/v1/chats/\(first)/refund-requests", token: member.token, json: ask)
            #expect(approved.status == 201 && approved.object["status"] as? String == "approved", "\(approved.text)")
            #expect(approved.object["rule"] as? String == "guarantee" && approved.object["amountCents"] as? Int == 249)
            #expect(try await Self.balance(platform, member.token) == 2000)
            let twice = try await platform.request("POST", "/v1/chats/\(first)/refund-requests", token: member.token, json: ask)
            #expect(twice.status == 409 && twice.code == "refund_already_requested", "\(twice.text)")

            // Too late: the window counts from the chat's end.
            let late = try await Self.paidChat(platform, member: member.token, advisor: advisor)
            let billing = Database(platform.harness.database.config(schema: "billing"), logger: Logger(label: "test"))
            _ = try await billing.withConnection {
                try $0.execute("UPDATE chats SET ended_at = ended_at - interval '73 hours' WHERE id = $1", try #require(UUID(uuidString: late)))
            }
            await billing.close()
            let tooLate = try await platform.request("POST", "/v1/chats/\(late)/refund-requests", token: member.token, json: ask)
            #expect(tooLate.object["status"] as? String == "declined" && tooLate.object["rule"] as? String == "window_passed", "\(tooLate.text)")
            // In time, but a refund was approved in the last 30 days.
            let recent = try await Self.paidChat(platform, member: member.token, advisor: advisor)
            let again = try await platform.request("POST", "/v1/chats/\(recent)/refund-requests", token: member.token, json: ask)
            #expect(again.object["status"] as? String == "declined" && again.object["rule"] as? String == "recent_refund", "\(again.text)")
            #expect(try await Self.balance(platform, member.token) == 2000 - 2 * 249)

            // Finance overrides, with a reason the member sees in their access log.
            let override = ["chatId": recent, "amountCents": 249, "reason": "Advisor left mid-reading; goodwill."] as [String: Any]
            #expect(try await platform.request("POST", "/v1/staff/refunds", token: member.token, json: override).status == 403)
            let finance = try await platform.staffMember(role: "finance")
            let tooMuch = override.merging(["amountCents": 250]) { _, new in new }
            #expect(try await platform.request("POST", "/v1/staff/refunds", token: finance, json: tooMuch).status == 422)
            let overridden = try await platform.request("POST", "/v1/staff/refunds", token: finance, json: override)
            #expect(overridden.status == 201 && overridden.object["rule"] as? String == "finance_override", "\(overridden.text)")
            #expect(try await platform.request("POST", "/v1/staff/refunds", token: finance, json: override).status == 409)
            #expect(try await Self.balance(platform, member.token) == 2000 - 249)
            let log = try await platform.request("GET", "/v1/me/access-log", token: member.token)
            #expect(log.text.contains("staff.refund-override") && log.text.contains("goodwill"), "\(log.text)")
            let statement = try await platform.request("GET", "/v1/me/statement", token: member.token).items
            #expect(statement.filter { $0["kind"] as? String == "refund" }.count == 2)
            try await Self.ledgerIsExact(platform)
        }
    }

    /// A W-9, as a front end sends it.
    static var w9: [String: Any] {
        [
        "fields": [
            "form": "w9", "legalName": "Zora Moonfield", "taxClassification": "sole_proprietor",
            "address": ["line1": "1 Star Lane", "city": "Salem", "region": "MA", "postalCode": "01970", "country": "US"],
        ],
        "taxId": "123-45-6789", "certified": true,
        ]
    }

    /// An advisor with tax information and one paid minute earned (175 of 249 cents), and a funded member.
    static func earningAdvisor(_ platform: AccountsPlatform) async throws -> (advisor: (id: String, token: String), member: String) {
        let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
        let member = try await ChatEndToEndTests.member(platform)
        let card = try await Self.saveCard(platform, "4242424242424242", for: member.token)
        #expect(try await Self.topUp(platform, cents: 2000, card: card, token: member.token).status == 201)
        _ = try await Self.paidChat(platform, member: member.token, advisor: advisor)
        return (advisor, member.token)
    }

    @Test("tax information sealed and read back by its last four; payouts once per key, paid or returned by the processor; the year's figures")
    func payoutsAndTaxInfo() async throws {
        try await AccountsPlatform.with(
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "30"], .billing: ["BILLING_FREE_MINUTES": "0", "BILLING_PAYOUT_MIN_CENTS": "100"]],
            payments: true, sandboxEnvironment: ["SANDBOX_PAYOUT_SECONDS": "0"]
        ) { platform in
            let (advisor, member) = try await Self.earningAdvisor(platform)
            func earnings() async throws -> [Int?] {
                let object = try await platform.request("GET", "/v1/advisors/me/earnings", token: advisor.token).object
                return ["availableCents", "pendingCents", "paidOutCents"].map { object[$0] as? Int }
            }
            #expect(try await earnings() == [175, 0, 0])
            func payout(_ cents: Int, key: String = UUID().uuidString) async throws -> Reply {
                try await platform.request(
                    "POST", "/v1/advisors/me/payouts", token: advisor.token, json: ["amountCents": cents], headers: ["Idempotency-Key": key])
            }
            let untaxed = try await payout(150)
            #expect(untaxed.status == 409 && untaxed.code == "tax_info_required", "\(untaxed.text)")

            // Tax information: the tax id in whole, back as its last four only; sealed at rest.
            #expect(try await platform.request("GET", "/v1/advisors/me/tax-info", token: advisor.token).status == 404)
            var bad = Self.w9
            bad["taxId"] = "12-345"
            #expect(try await platform.request("PUT", "/v1/advisors/me/tax-info", token: advisor.token, json: bad).status == 422)
            #expect(try await platform.request("PUT", "/v1/advisors/me/tax-info", token: member, json: Self.w9).status == 403)
            let saved = try await platform.request("PUT", "/v1/advisors/me/tax-info", token: advisor.token, json: Self.w9)
            #expect(saved.status == 200 && saved.object["taxIdLast4"] as? String == "6789", "\(saved.text)")
            let read = try await platform.request("GET", "/v1/advisors/me/tax-info", token: advisor.token)
            #expect(read.text.contains("Zora Moonfield") && !read.text.contains("123-45") && !read.text.contains("123456789"), "\(read.text)")
            let billing = Database(platform.harness.database.config(schema: "billing"), logger: Logger(label: "test"))
            let dump = try await billing.withConnection { connection in
                try connection.queryOne("SELECT coalesce(string_agg(t::text, ' '), '') AS rows FROM tax_info t")?.decode("rows", as: String.self) ?? ""
            }
            await billing.close()
            #expect(dump.contains("6789") && !dump.contains("Moonfield") && !dump.contains("12345") && !dump.contains("123-45"), "sealed: \(dump)")

            // Payouts: the minimum, the earnings, once per key.
            #expect(try await payout(50).code == "below_minimum")
            #expect(try await payout(1000).code == "insufficient_funds")
            let first = try await payout(150, key: "payday")
            #expect(first.status == 201 && first.object["status"] as? String == "requested", "\(first.text)")
            #expect(try await payout(150, key: "payday").object["id"] as? String == first.object["id"] as? String)
            #expect(try await payout(160, key: "payday").code == "idempotency_key_reused")
            try await eventually("the processor pays it") { try await earnings() == [25, 0, 150] }
            let listed = try await platform.request("GET", "/v1/advisors/me/payouts", token: advisor.token)
            #expect(listed.items.map { $0["status"] as? String } == ["paid"], "\(listed.text)")
            let forged = try await platform.request("GET", "/v1/advisors/me/payouts?cursor=LywUr8", token: advisor.token)
            #expect(forged.status == 404, "base64 that was never a cursor names no page: \(forged.text)")

            // A payout the processor cannot make comes back to the earnings.
            _ = try await Self.paidChat(platform, member: member, advisor: advisor)
            try await Self.setFaults(platform, ["failPayouts": true])
            let failing = try await payout(200)
            #expect(failing.status == 201, "\(failing.text)")
            try await eventually("the failed payout returns") {
                try await platform.request("GET", "/v1/advisors/me/payouts", token: advisor.token).items.first?["status"] as? String == "failed"
            }
            #expect(try await earnings() == [200, 0, 150])

            let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year ?? 2026
            let summary = try await platform.request("GET", "/v1/advisors/me/tax-summary?year=\(year)", token: advisor.token)
            #expect(summary.object["grossEarningsCents"] as? Int == 350 && summary.object["paidOutCents"] as? Int == 150, "\(summary.text)")
            #expect(summary.object["taxIdLast4"] as? String == "6789" && summary.object["form1099Required"] as? Bool == false)
            try await Self.ledgerIsExact(platform)
        }
    }

    @Test("the scheduled run pays out every advisor with tax information above the minimum, once per period")
    func scheduledPayouts() async throws {
        try await AccountsPlatform.with(
            serviceEnvironment: [
                .chat: ["CHAT_ACCEPT_SECONDS": "30"],
                .billing: ["BILLING_FREE_MINUTES": "0", "BILLING_PAYOUT_MIN_CENTS": "100", "BILLING_PAYOUT_RUN_SECONDS": "1"],
            ],
            payments: true, sandboxEnvironment: ["SANDBOX_PAYOUT_SECONDS": "0"]
        ) { platform in
            let (advisor, _) = try await Self.earningAdvisor(platform)
            let untaxed = try await Self.earningAdvisor(platform)
            #expect(try await platform.request("PUT", "/v1/advisors/me/tax-info", token: advisor.token, json: Self.w9).status == 200)
            try await eventually("the run pays all of it out") {
                try await platform.request("GET", "/v1/advisors/me/payouts", token: advisor.token).items.first?["status"] as? String == "paid"
            }
            let listed = try await platform.request("GET", "/v1/advisors/me/payouts", token: advisor.token).items
            #expect(listed.count == 1 && listed[0]["scheduled"] as? Bool == true && listed[0]["amountCents"] as? Int == 175, "\(listed)")
            #expect(try await platform.request("GET", "/v1/advisors/me/payouts", token: untaxed.advisor.token).items.isEmpty)
            try await Task.sleep(for: .seconds(2))
            #expect(try await platform.request("GET", "/v1/advisors/me/payouts", token: advisor.token).items.count == 1, "once per period")
        }
    }

    @Test("auto-reload tops the wallet up from the saved card when it drops below the threshold, once per crossing")
    func autoReload() async throws {
        try await AccountsPlatform.with(
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "30"], .billing: ["BILLING_FREE_MINUTES": "0"]], payments: true
        ) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let stranger = try await ChatEndToEndTests.member(platform, name: "Stranger")
            let card = try await Self.saveCard(platform, "4242424242424242", for: member.token)
            #expect(try await Self.topUp(platform, cents: 500, card: card, token: member.token).status == 201)
            let order: [String: Any] = ["enabled": true, "thresholdCents": 300, "amountCents": 1000, "paymentMethodId": card]
            #expect(try await platform.request("PUT", "/v1/me/wallet/auto-reload", token: stranger.token, json: order).status == 404)
            var tooSmall = order
            tooSmall["amountCents"] = 10
            #expect(try await platform.request("PUT", "/v1/me/wallet/auto-reload", token: member.token, json: tooSmall).status == 422)
            let set = try await platform.request("PUT", "/v1/me/wallet/auto-reload", token: member.token, json: order)
            #expect(set.status == 200 && set.object["enabled"] as? Bool == true, "\(set.text)")
            let wallet = try await platform.request("GET", "/v1/me/wallet", token: member.token)
            #expect((wallet.object["autoReload"] as? [String: Any])?["thresholdCents"] as? Int == 300, "\(wallet.text)")
            func topUps() async throws -> Int {
                try await platform.request("GET", "/v1/me/statement", token: member.token).items.filter { $0["kind"] as? String == "top-up" }.count
            }
            #expect(try await topUps() == 1, "above the threshold: no reload")

            // Asking for a chat holds a minute: 251 available, below 300, so the card is charged 1000.
            let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
            let chat = try #require(requested.object["id"] as? String, "\(requested.text)")
            try await eventually("the reload arrives") {
                try await platform.request("GET", "/v1/me/wallet", token: member.token).object["balanceCents"] as? Int == 1500
            }
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
            try await eventually("minute 1 charged, minute 2 held") {
                try await platform.request("GET", "/v1/me/wallet", token: member.token).object["availableCents"] as? Int == 1002
            }
            #expect(try await topUps() == 2, "one reload for one crossing")
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/end", token: member.token).status == 200)
            try await Self.ledgerIsExact(platform)
        }
    }

    @Test("billing killed -9 between ticks and their charges, and again mid-apply: restarted, each minute is charged once, the ledger exact")
    func billingKilled() async throws {
        let billingEnvironment = ["BILLING_FREE_MINUTES": "0"]
        try await AccountsPlatform.with(
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "30", "CHAT_SILENCE_SECONDS": "3600"], .billing: billingEnvironment],
            payments: true
        ) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let card = try await Self.saveCard(platform, "4242424242424242", for: member.token)
            #expect(try await Self.topUp(platform, cents: 5000, card: card, token: member.token).status == 201)
            let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
            let chat = try #require(requested.object["id"] as? String, "\(requested.text)")
            let chatId = try #require(UUID(uuidString: chat))
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
            func charged() async throws -> Int {
                try await platform.request("GET", "/v1/me/statement?limit=100", token: member.token).items.filter {
                    $0["kind"] as? String == "chat-minute"
                }.count
            }
            try await eventually("minute 1 is charged") { try await charged() == 1 }

            // Billing dies; three minutes start while it is down; it comes back and catches up.
            for process in platform.harness.processes(of: "billing") { process.stop() }
            try await BillingEndToEndTests.age(platform, chat: chatId, by: 180)
            try await Task.sleep(for: .seconds(2))
            try await platform.harness.startService("billing", schema: "billing", environment: billingEnvironment)
            try await eventually("minutes 2 to 4 are charged after the restart") { try await charged() == 4 }

            // Killed again the moment a minute starts, perhaps mid-apply.
            try await BillingEndToEndTests.age(platform, chat: chatId, by: 60)
            try await Task.sleep(for: .milliseconds(900))
            for process in platform.harness.processes(of: "billing") { process.stop() }
            try await platform.harness.startService("billing", schema: "billing", environment: billingEnvironment)
            try await eventually("minute 5 is charged, once") { try await charged() == 5 }
            try await Task.sleep(for: .seconds(2))
            #expect(try await charged() == 5, "no minute charged twice")
            let wallet = try await platform.request("GET", "/v1/me/wallet", token: member.token).object
            #expect(wallet["balanceCents"] as? Int == 5000 - 5 * 249 && wallet["heldCents"] as? Int == 249, "\(wallet)")
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/end", token: member.token).status == 200)
            try await Self.ledgerIsExact(platform)
        }
    }

    @Test("free minutes are not granted again to a card that earned them on another account")
    func freeMinutesOncePerCard() async throws {
        try await AccountsPlatform.with(serviceEnvironment: ChatEndToEndTests.environment, payments: true) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let first = try await ChatEndToEndTests.member(platform)
            _ = try await Self.saveCard(platform, "4242424242424242", for: first.token)
            let chat = try await platform.request("POST", "/v1/chats", token: first.token, json: ["advisorId": advisor.id])
            #expect(chat.status == 201, "\(chat.text)")
            let chatId = try #require(chat.object["id"] as? String)
            #expect(try await platform.request("POST", "/v1/chats/\(chatId)/accept", token: advisor.token).status == 200)
            try await eventually("the first account has its free minutes") {
                try await platform.request("GET", "/v1/me/wallet", token: first.token).object["freeChatsLeft"] as? Int == 2
            }
            let second = try await ChatEndToEndTests.member(platform, name: "Second Account")
            #expect(try await platform.request("GET", "/v1/me/wallet", token: second.token).object["freeChatsLeft"] as? Int == 3)
            _ = try await Self.saveCard(platform, "4242 4242 4242 4242", for: second.token)
            let wallet = try await platform.request("GET", "/v1/me/wallet", token: second.token)
            #expect(wallet.object["freeChatsLeft"] as? Int == 0, "the same card on a second account: \(wallet.text)")
            #expect(try await platform.request("POST", "/v1/chats/\(chatId)/end", token: first.token).status == 200)
            try await eventually("the advisor is free again") { try await ChatEndToEndTests.advisorStatus(platform, advisor.id) == "online" }
            let refused = try await platform.request("POST", "/v1/chats", token: second.token, json: ["advisorId": advisor.id])
            #expect(refused.status == 402 && refused.code == "insufficient_funds", "no free minutes, no funds: \(refused.text)")
        }
    }
}
