import Foundation
import Models
import ServiceKit
import Store

/// Charging chats by the minute, from the chat service's events: free minutes granted when a chat
/// is asked for, each started minute posted once (its transfer id is `minute:<chat>:<n>`), a
/// warning when the wallet covers one more minute only, the end of the chat when it covers none,
/// and the chat's total when it ends (`billing.chat-settled.v1`).
enum ChatCharging {
    static func subscription(settings: BillingSettings) -> EventSubscription {
        EventSubscription(producer: .chat)
            .on(Chat.Requested.self) { event, _, connection in
                try connection.execute(
                    "INSERT INTO chats (id, member_id, advisor_id, price_cents) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                    event.chatId, event.memberId, event.advisorId, event.pricePerMinuteCents)
                try grantFreeMinutes(event, settings: settings, on: connection)
            }
            .on(Chat.MinuteStarted.self) { event, _, connection in
                try charge(event, settings: settings, on: connection)
            }
            .on(Chat.Ended.self) { event, _, connection in
                try settle(event, on: connection)
            }
    }

    /// How many more advisors `member` may start a chat with on free minutes; with `advisor`,
    /// none when their free chat with that advisor was had already. A grant whose chat has not
    /// started a minute does not stop a new chat with that advisor: the advisor takes one chat at
    /// a time, so that chat is over, and its grant is given back when billing reads its end.
    static func freeChatsLeft(
        _ member: UUID, with advisor: UUID? = nil, settings: BillingSettings, on connection: Connection
    ) throws -> Int {
        guard settings.freeMinutes > 0,
            let row = try connection.queryOne(
                """
                SELECT count(*)::int AS granted,
                       bool_or(g.advisor_id = $2 AND EXISTS (SELECT 1 FROM transfers t WHERE t.chat_id = g.chat_id)) AS with_advisor
                FROM free_grants g WHERE g.member_id = $1
                """,
                member, advisor)
        else { return 0 }
        if try row.decode("with_advisor", as: Bool?.self) == true { return 0 }
        // A card that earned free minutes on another account earns none here.
        if try connection.queryOne(
            """
            SELECT 1 AS shared FROM card_holders mine
            JOIN card_holders other ON other.fingerprint = mine.fingerprint AND other.member_id <> mine.member_id
            WHERE mine.member_id = $1 AND EXISTS (SELECT 1 FROM free_grants g WHERE g.member_id = other.member_id) LIMIT 1
            """, member) != nil
        {
            return 0
        }
        return max(0, settings.freeChats - (try row.decode("granted", as: Int.self)))
    }

    /// A member's first chat with each of up to `freeChats` advisors starts with free minutes.
    static func grantFreeMinutes(_ event: Chat.Requested, settings: BillingSettings, on connection: Connection) throws {
        guard try freeChatsLeft(event.memberId, with: event.advisorId, settings: settings, on: connection) > 0 else { return }
        let inserted = try connection.queryOne(
            """
            INSERT INTO free_grants (member_id, advisor_id, chat_id, minutes) VALUES ($1, $2, $3, $4)
            ON CONFLICT DO NOTHING RETURNING minutes
            """, event.memberId, event.advisorId, event.chatId, settings.freeMinutes)
        guard inserted != nil else { return }
        try connection.execute("UPDATE chats SET free_minutes = $2 WHERE id = $1", event.chatId, settings.freeMinutes)
        try Outbox.append(Billing.FreeMinutes(chatId: event.chatId, freeMinutes: settings.freeMinutes, at: Date()), on: connection)
    }

    /// Posts one started minute: from the promotions account within the chat's free minutes,
    /// else from the member's wallet; the advisor earns it net of the commission, which is revenue.
    static func charge(_ event: Chat.MinuteStarted, settings: BillingSettings, on connection: Connection) throws {
        let price = event.pricePerMinuteCents
        guard price > 0 else { return }
        let freeMinutes = try connection.queryOne("SELECT free_minutes FROM chats WHERE id = $1", event.chatId)?
            .decode("free_minutes", as: Int.self) ?? 0
        let free = event.minute <= freeMinutes
        let commission = price * settings.commissionPercent / 100
        let wallet = try Ledger.account("wallet", of: event.memberId, on: connection)
        var legs = [Ledger.Leg(account: free ? Ledger.promotions : wallet, amountCents: -price)]
        legs.append(Ledger.Leg(account: try Ledger.account("earnings", of: event.advisorId, on: connection), amountCents: price - commission))
        if commission > 0 { legs.append(Ledger.Leg(account: Ledger.revenue, amountCents: commission)) }
        let outcome = try Ledger.post(
            "minute:\(event.chatId.uuidString.lowercased()):\(event.minute)", kind: free ? "free-minute" : "chat-minute",
            chatId: event.chatId, legs: legs, on: connection)
        switch outcome {
        case .insufficientFunds:
            try Outbox.append(Billing.FundsExhausted(chatId: event.chatId, at: Date()), on: connection)
        case .posted where !free || event.minute == freeMinutes:
            // After this minute the wallet pays: warn when it covers the next one at most.
            let balance = try Ledger.balance("wallet", of: event.memberId, on: connection)
            if balance < 2 * price {
                try Outbox.append(Billing.MinuteLeft(chatId: event.chatId, balanceCents: balance, at: Date()), on: connection)
            }
        case .posted, .alreadyPosted:
            break
        }
    }

    /// The chat's total, once: what the member's wallet paid for it.
    static func settle(_ event: Chat.Ended, on connection: Connection) throws {
        try connection.execute(
            "INSERT INTO chats (id, member_id, advisor_id, price_cents) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            event.chatId, event.memberId, event.advisorId, event.pricePerMinuteCents)
        guard
            try connection.queryOne(
                "UPDATE chats SET settled_at = now() WHERE id = $1 AND settled_at IS NULL RETURNING id", event.chatId) != nil
        else { return }
        if event.minutes == 0 {
            // Declined or expired before it began: the free minutes were never used.
            try connection.execute(
                "DELETE FROM free_grants g WHERE g.chat_id = $1 AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.chat_id = g.chat_id)",
                event.chatId)
        }
        let charged = try connection.queryOne(
            """
            SELECT coalesce(-sum(e.amount_cents), 0)::bigint AS charged FROM transfers t
            JOIN entries e ON e.transfer_id = t.id JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'wallet'
            WHERE t.chat_id = $1 AND t.kind = 'chat-minute'
            """, event.chatId)?.decode("charged", as: Int.self) ?? 0
        try Outbox.append(
            Billing.ChatSettled(
                chatId: event.chatId, memberId: event.memberId, advisorId: event.advisorId, chargedCents: charged, endedAt: event.at),
            on: connection)
    }
}
