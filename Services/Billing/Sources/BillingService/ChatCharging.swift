import Foundation
import Models
import ServiceKit
import Store

/// Charging chats by the minute, from the chat service's events: free minutes granted when a chat
/// is asked for; each started minute posted once (its transfer id is `minute:<chat>:<n>`) and the
/// next paid minute held (`hold:<chat>:<n>`); a warning when the wallet covers one more minute
/// only; a pause when a started minute cannot be paid, charged and resumed when funds arrive; and
/// the chat's total when it ends (`billing.chat-settled.v1`).
enum ChatCharging {
    static func subscription(settings: BillingSettings) -> EventSubscription {
        EventSubscription(producer: .chat)
            .on(Chat.Requested.self) { event, _, connection in
                try connection.execute(
                    "INSERT INTO chats (id, member_id, advisor_id, price_cents) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                    event.chatId, event.memberId, event.advisorId, event.pricePerMinuteCents)
                try grantFreeMinutes(event, settings: settings, on: connection)
            }
            .onBatch(Chat.MinuteStarted.self) { events, connection in
                try MinuteBatch.charge(events, settings: settings, on: connection)
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

    static func holdId(_ chat: UUID, minute: Int) -> String { "hold:\(chat.lowercasedString):\(minute)" }

    /// The transfer of a chat's minute: its cause, so it is posted once.
    static func minuteId(_ chat: UUID, minute: Int) -> String { "minute:\(chat.lowercasedString):\(minute)" }

    /// Places the hold for a chat's `minute` on the member's wallet; whether it holds now.
    @discardableResult
    static func holdMinute(
        _ minute: Int, chat: UUID, member: UUID, price: Int, settings: BillingSettings, on connection: Connection
    ) throws -> Bool {
        let wallet = try Ledger.account("wallet", of: member, on: connection)
        let outcome = try Ledger.hold(
            holdId(chat, minute: minute), account: wallet, amountCents: price, chatId: chat,
            expiresAt: Date().addingTimeInterval(TimeInterval(settings.holdSeconds)), on: connection)
        return outcome != .insufficientFunds
    }

    /// The minute's transfer, paid by promotions when free, else by the wallet (its hold posted).
    private static func postMinute(
        _ minute: Int, chat: UUID, member: UUID, advisor: UUID, price: Int, free: Bool, settings: BillingSettings,
        on connection: Connection
    ) throws -> Ledger.Outcome {
        let commission = price * settings.commissionPercent / 100
        let wallet = try Ledger.account("wallet", of: member, on: connection)
        var legs = [Ledger.Leg(account: free ? Ledger.promotions : wallet, amountCents: -price)]
        legs.append(Ledger.Leg(account: try Ledger.account("earnings", of: advisor, on: connection), amountCents: price - commission))
        if commission > 0 { legs.append(Ledger.Leg(account: Ledger.revenue, amountCents: commission)) }
        // Two-phase: a paid minute's hold becomes its posting, in one transaction.
        return try Ledger.post(
            minuteId(chat, minute: minute), kind: free ? "free-minute" : "chat-minute", chatId: chat, legs: legs,
            releasing: free ? nil : holdId(chat, minute: minute), on: connection)
    }

    /// After a minute the wallet will pay for the next: hold it, and warn both sides when the
    /// wallet covers that one at most (`billing.chat-minute-left.v1`).
    private static func holdNextAndWarn(
        after minute: Int, chat: UUID, member: UUID, price: Int, settings: BillingSettings, on connection: Connection
    ) throws {
        try holdMinute(minute + 1, chat: chat, member: member, price: price, settings: settings, on: connection)
        try AutoReload.check(member: member, on: connection)
        let funds = try Ledger.funds("wallet", of: member, on: connection)
        if funds.balance - funds.held < price {
            try Outbox.append(Billing.MinuteLeft(chatId: chat, balanceCents: funds.balance, at: Date()), on: connection)
        }
        // The minute just paid took the wallet below the low-balance mark: told once per crossing.
        if funds.balance < settings.lowBalanceCents, funds.balance + price >= settings.lowBalanceCents {
            try Outbox.append(
                Billing.MoneyNotice(accountId: member, what: Billing.MoneyNotice.lowBalance, amountCents: funds.balance, at: Date()),
                on: connection)
        }
    }

    /// The member's chats paused on an unpaid minute, locked. Chats are locked before ledger
    /// accounts everywhere (as `charge` does), so take these before crediting the wallet.
    static func pausedChats(of member: UUID, on connection: Connection) throws -> [Row] {
        try connection.query(
            """
            SELECT id, advisor_id, price_cents, unpaid_minute FROM chats
            WHERE member_id = $1 AND unpaid_minute IS NOT NULL AND settled_at IS NULL ORDER BY id FOR UPDATE
            """, member)
    }

    /// Funds arrived for `member`: each of their `paused` chats is charged its unpaid minute and
    /// resumed, while the wallet covers them.
    static func resume(_ paused: [Row], member: UUID, settings: BillingSettings, on connection: Connection) throws {
        for chat in paused {
            let chatId: UUID = try chat.decode("id")
            guard let advisor: UUID = try chat.decode("advisor_id") else { continue }
            let minute: Int = try chat.decode("unpaid_minute")
            let price: Int = try chat.decode("price_cents")
            let outcome = try postMinute(
                minute, chat: chatId, member: member, advisor: advisor, price: price, free: false, settings: settings, on: connection)
            guard outcome != .insufficientFunds else { continue }
            try connection.execute("UPDATE chats SET unpaid_minute = NULL WHERE id = $1", chatId)
            try Outbox.append(Billing.ChatResumed(chatId: chatId, at: Date()), on: connection)
            try holdNextAndWarn(after: minute, chat: chatId, member: member, price: price, settings: settings, on: connection)
        }
    }

    /// The chat's total, once: what the member's wallet paid for it.
    static func settle(_ event: Chat.Ended, on connection: Connection) throws {
        try connection.execute(
            "INSERT INTO chats (id, member_id, advisor_id, price_cents) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            event.chatId, event.memberId, event.advisorId, event.pricePerMinuteCents)
        guard
            try connection.queryOne(
                """
                UPDATE chats SET settled_at = now(), ended_at = $2, unpaid_minute = NULL WHERE id = $1 AND settled_at IS NULL RETURNING id
                """, event.chatId, event.at) != nil
        else { return }
        // What was held for minutes that will not start is free again.
        for hold in try connection.query("SELECT id FROM holds WHERE chat_id = $1 AND status = 'pending'", event.chatId) {
            try Ledger.release(try hold.decode("id"), as: "voided", on: connection)
        }
        if event.minutes == 0 {
            // Declined or expired before it began: the free minutes were never used.
            try connection.execute(
                "DELETE FROM free_grants g WHERE g.chat_id = $1 AND NOT EXISTS (SELECT 1 FROM transfers t WHERE t.chat_id = g.chat_id)",
                event.chatId)
        }
        let charged = try Ledger.walletPaid(for: event.chatId, on: connection)
        try Outbox.append(
            Billing.ChatSettled(
                chatId: event.chatId, memberId: event.memberId, advisorId: event.advisorId, chargedCents: charged, endedAt: event.at),
            on: connection)
    }
}
