import Foundation
import Logging
import Models
import Store
import Testing
import TestSupport

/// Billing's ledger and per-minute charging through the real gateway, broker and services
/// (docs/api.md "Billing").
@Suite(.serialized, .timeLimit(.minutes(4)))
struct BillingEndToEndTests {
    /// Moves a chat's clock `seconds` into the past (its minutes are real minutes otherwise).
    static func age(_ platform: AccountsPlatform, chat: UUID, by seconds: Int) async throws {
        let database = Database(platform.harness.database.config(schema: "chat"), logger: Logger(label: "test"))
        _ = try await database.withConnection {
            try $0.execute("UPDATE chats SET accepted_at = accepted_at - make_interval(secs => $2::int) WHERE id = $1", chat, seconds)
        }
        await database.close()
    }

    /// Puts `cents` in a member's wallet as a balanced transfer from the processor's clearing
    /// account, written straight into billing's ledger (top-ups through a processor are not built yet).
    static func fund(_ platform: AccountsPlatform, member: String, cents: Int) async throws {
        let owner = try #require(UUID(uuidString: member))
        let billing = Database(platform.harness.database.config(schema: "billing"), logger: Logger(label: "test"))
        try await billing.transaction { connection in
            try connection.execute(
                """
                INSERT INTO ledger_accounts (id, kind, owner_id) VALUES ($1, 'wallet', $2)
                ON CONFLICT (kind, owner_id) WHERE owner_id IS NOT NULL DO NOTHING
                """, UUID(), owner)
            let clearing = try #require(
                try connection.queryOne("SELECT id, balance_cents FROM ledger_accounts WHERE kind = 'clearing' FOR UPDATE"))
            let wallet = try #require(
                try connection.queryOne(
                    "SELECT id, balance_cents FROM ledger_accounts WHERE kind = 'wallet' AND owner_id = $1 FOR UPDATE", owner))
            let transfer = "test-funds:\(UUID().uuidString.lowercased())"
            try connection.execute("INSERT INTO transfers (id, kind) VALUES ($1, 'top-up')", transfer)
            for (row, amount) in [(clearing, -cents), (wallet, cents)] {
                let after = try row.decode("balance_cents", as: Int.self) + amount
                try connection.execute(
                    "INSERT INTO entries (transfer_id, account_id, amount_cents, balance_after_cents) VALUES ($1, $2, $3, $4)", transfer,
                    try row.decode("id", as: UUID.self), amount, after)
                try connection.execute("UPDATE ledger_accounts SET balance_cents = $2 WHERE id = $1", try row.decode("id", as: UUID.self), after)
            }
        }
        await billing.close()
    }

    @Test("a new member's free minutes are paid by promotions, each minute once; an empty wallet pauses, then ends the chat; the ledger balances")
    func freeMinutesThenFundsExhausted() async throws {
        try await AccountsPlatform.with(
            gatewayEnvironment: StreamClient.gatewayEnvironment,
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "2", "CHAT_PAUSE_SECONDS": "5"]]
        ) { platform in
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let wallet = try await platform.request("GET", "/v1/me/wallet", token: member.token)
            #expect(wallet.status == 200 && wallet.object["balanceCents"] as? Int == 0 && wallet.object["freeChatsLeft"] as? Int == 3, "\(wallet.text)")
            #expect(try await platform.request("GET", "/v1/me/wallet", token: advisor.token).status == 403)
            let stream = try await StreamClient.connect(platform.gateway, as: .cookie(member.token))

            let requested = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
            let chat = try #require(requested.object["id"] as? String)
            let chatId = try #require(UUID(uuidString: chat))
            try await eventually("billing grants three free minutes") {
                try await platform.request("GET", "/v1/chats/\(chat)", token: member.token).object["freeMinutes"] as? Int == 3
            }
            #expect(try await platform.request("GET", "/v1/me/wallet", token: member.token).object["freeChatsLeft"] as? Int == 2)
            #expect(try await platform.request("POST", "/v1/chats/\(chat)/accept", token: advisor.token).status == 200)
            // 249 cents a minute, 30 % commission: the advisor earns 175 of each minute.
            try await eventually("the first free minute is the advisor's") {
                try await platform.request("GET", "/v1/advisors/me/earnings", token: advisor.token).object["availableCents"] as? Int == 175
            }

            // A minute event delivered again (a new event for the same minute) is not charged twice.
            let chatSchema = Database(platform.harness.database.config(schema: "chat"), logger: Logger(label: "test"))
            let memberId = try #require(UUID(uuidString: member.id))
            let advisorId = try #require(UUID(uuidString: advisor.id))
            try await chatSchema.transaction {
                try Outbox.append(
                    Chat.MinuteStarted(chatId: chatId, memberId: memberId, advisorId: advisorId, minute: 1, pricePerMinuteCents: 249, free: true, at: Date()),
                    on: $0)
            }
            await chatSchema.close()

            // Three minutes on: minutes 2 and 3 are free, the wallet cannot pay minute 4.
            try await Self.age(platform, chat: chatId, by: 180)
            let warned = try await stream.next("one minute left, after the free ones") { $0["type"] as? String == "billing.minute-left" }
            #expect(warned["balanceCents"] as? Int == 0)
            try await stream.next("an unpaid minute pauses the chat while the member could add funds") {
                $0["type"] as? String == "billing.paused"
            }
            try await stream.next("no funds came: the chat ends") {
                $0["type"] as? String == "chat.ended" && $0["reason"] as? String == "funds_exhausted"
            }
            let earnings = try await platform.request("GET", "/v1/advisors/me/earnings", token: advisor.token)
            #expect(earnings.object["availableCents"] as? Int == 525 && earnings.object["commissionPercent"] as? Int == 30, "\(earnings.text)")
            let lines = try await platform.request("GET", "/v1/me/statement", token: advisor.token).items
            #expect(lines.count == 3 && lines.allSatisfy { $0["kind"] as? String == "earning" && $0["chatId"] as? String == chat }, "\(lines)")
            let free = try await platform.request("GET", "/v1/me/statement", token: member.token).items
            #expect(
                free.count == 3 && free.allSatisfy { $0["kind"] as? String == "free-minute" && $0["amountCents"] as? Int == 0 },
                "the member's statement shows the free minutes, at no cost to the wallet: \(free)")
            try await eventually("the chat is settled at no cost to the member") {
                try await platform.request("GET", "/v1/chats/\(chat)", token: member.token).object["costCents"] as? Int == 0
            }

            // No free minutes left with this advisor and an empty wallet: the advisor is never asked.
            let unfunded = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": advisor.id])
            #expect(unfunded.status == 402 && unfunded.code == "insufficient_funds", "\(unfunded.text)")
            try await eventually("the advisor is free") { try await ChatEndToEndTests.advisorStatus(platform, advisor.id) == "online" }
            let other = try await ChatEndToEndTests.onlineAdvisor(platform, name: "Orion Blake")
            let freeAgain = try await platform.request("POST", "/v1/chats", token: member.token, json: ["advisorId": other.id])
            #expect(freeAgain.status == 201, "a first chat with another advisor is free: \(freeAgain.text)")
            #expect(try await platform.request("POST", "/v1/chats/\(try #require(freeAgain.object["id"] as? String))/end", token: member.token).status == 200)

            // Finance proves the ledger; nobody else may ask.
            #expect(try await platform.request("GET", "/v1/staff/ledger/check", token: member.token).status == 403)
            let finance = try await platform.staffMember(role: "finance")
            let check = try await platform.request("GET", "/v1/staff/ledger/check", token: finance)
            #expect(check.status == 200 && check.object["ok"] as? Bool == true && check.object["totalCents"] as? Int == 0, "\(check.text)")
            #expect(check.object["transfers"] as? Int == 3, "one transfer per minute charged: \(check.text)")
            // The operator's command asks the same question over the bus.
            let command = try PlatformProcess("platform", arguments: ["ledger-check"], environment: platform.harness.bus)
            defer { command.stop() }
            #expect(try await command.waitForExit(timeout: .seconds(30)) == 0, "\(command.log())")
            #expect(command.log().contains("\"totalCents\" : 0"), "\(command.log())")
            stream.close()
        }
    }
}
