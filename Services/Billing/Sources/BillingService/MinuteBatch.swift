import Foundation
import Models
import Store

/// Charging a run of started minutes in a few statements, whatever its length (TigerBeetle's
/// lesson: batch the ledger's work, not only the commits). The batch's chats, then its accounts,
/// are locked in id order (the order every path takes); the minutes are decided one by one in
/// memory, exactly as one alone would be (free or paid, the hold posted, paused when unpaid, the
/// next minute held, the warning); then every transfer, entry, balance and hold is written in one
/// statement each. One minute is a batch of one.
enum MinuteBatch {
    private struct Account {
        let id: UUID
        var balance: Int
        var held: Int
        let personal: Bool
        var touched = false
    }

    /// A ledger account's owner: a member's wallet or an advisor's earnings.
    private struct Owner: Hashable {
        let kind: String
        let id: UUID
    }

    private struct Hold {
        let account: UUID
        let amount: Int
        var status: String
        var fresh: Bool
        var changed = false
        /// The chat of a hold this batch makes.
        var chat: UUID?
    }

    static func charge(_ events: [Chat.MinuteStarted], settings: BillingSettings, on connection: Connection) throws {
        let events = events.filter { $0.pricePerMinuteCents > 0 }
        guard !events.isEmpty else { return }

        // The chats, locked first.
        var chats: [UUID: (free: Int, unpaid: Int?)] = [:]
        for row in try connection.query(
            "SELECT id, free_minutes, unpaid_minute FROM chats WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
            Array(Set(events.map(\.chatId))))
        {
            chats[try row.decode("id")] = (try row.decode("free_minutes"), try row.decode("unpaid_minute"))
        }

        // The accounts, locked in id order with the platform's; any new to the ledger made first
        // (rare: a person's first minute), then locked too.
        let owners = Array(Set(events.flatMap { [Owner(kind: "wallet", id: $0.memberId), Owner(kind: "earnings", id: $0.advisorId)] }))
        var accounts: [UUID: Account] = [:]
        var personal: [Owner: UUID] = [:]
        func lock(_ owners: [Owner], with platform: [UUID]) throws {
            for row in try connection.query(
                """
                SELECT id, kind, owner_id, balance_cents, held_cents FROM ledger_accounts
                WHERE id = ANY(ARRAY(SELECT a.id FROM unnest($1::text[], $2::uuid[]) AS t(k, o)
                                     JOIN ledger_accounts a ON a.kind = t.k AND a.owner_id = t.o) || $3::uuid[])
                ORDER BY id FOR UPDATE
                """, owners.map(\.kind), owners.map(\.id), platform)
            {
                let id: UUID = try row.decode("id")
                let kind: String = try row.decode("kind")
                accounts[id] = Account(
                    id: id, balance: try row.decode("balance_cents"), held: try row.decode("held_cents"), personal: kind == "wallet" || kind == "earnings")
                if let owner: UUID = try row.decode("owner_id") { personal[Owner(kind: kind, id: owner)] = id }
            }
        }
        try lock(owners, with: [Ledger.promotions, Ledger.revenue])
        let new = owners.filter { personal[$0] == nil }
        if !new.isEmpty {
            try connection.execute(
                """
                INSERT INTO ledger_accounts (id, kind, owner_id) SELECT gen_random_uuid(), k, o FROM unnest($1::text[], $2::uuid[]) AS t(k, o)
                ON CONFLICT (kind, owner_id) WHERE owner_id IS NOT NULL DO NOTHING
                """, new.map(\.kind), new.map(\.id))
            try lock(new, with: [])
        }

        // What this batch may find done already: transfers, and holds of its minutes and the next.
        let transferIds = events.map { ChatCharging.minuteId($0.chatId, minute: $0.minute) }
        var posted = Set(
            try connection.query("SELECT id FROM transfers WHERE id = ANY($1::text[])", transferIds).map { try $0.decode("id", as: String.self) })
        let holdIds = events.flatMap {
            [ChatCharging.holdId($0.chatId, minute: $0.minute), ChatCharging.holdId($0.chatId, minute: $0.minute + 1)]
        }
        var holds: [String: Hold] = [:]
        for row in try connection.query("SELECT id, account_id, amount_cents, status FROM holds WHERE id = ANY($1::text[])", holdIds) {
            holds[try row.decode("id")] = Hold(
                account: try row.decode("account_id"), amount: try row.decode("amount_cents"), status: try row.decode("status"), fresh: false,
                chat: nil)
        }

        // Each minute decided in order, in memory.
        var transfers: [(id: String, kind: String, chat: UUID)] = []
        var entries: [(transfer: String, account: UUID, amount: Int, after: Int)] = []
        var unpaid: [(chat: UUID, minute: Int)] = []
        var warnings: [Billing.MinuteLeft] = []
        var lowBalances: [Billing.MoneyNotice] = []
        var pauses: [Billing.ChatPaused] = []
        var ended: [Billing.FundsExhausted] = []
        var reloadChecks = Set<UUID>()
        for (event, transferId) in zip(events, transferIds) {
            let price = event.pricePerMinuteCents
            let chat = chats[event.chatId] ?? (0, nil)
            let free = event.minute <= chat.free
            if !free, let waiting = chat.unpaid {
                // Minutes do not start while a chat is paused; one that did is not given unpaid.
                if event.minute > waiting { ended.append(.init(chatId: event.chatId, at: Date())) }
                continue
            }
            guard !posted.contains(transferId),
                let wallet = personal[Owner(kind: "wallet", id: event.memberId)], let earnings = personal[Owner(kind: "earnings", id: event.advisorId)]
            else { continue }
            let payer = free ? Ledger.promotions : wallet
            let commission = price * settings.commissionPercent / 100
            var legs = [(payer, -price), (earnings, price - commission)]
            if commission > 0 { legs.append((Ledger.revenue, commission)) }
            // Two-phase: the minute's own hold no longer holds once it is charged.
            let holdId = ChatCharging.holdId(event.chatId, minute: event.minute)
            let ownHold = free ? 0 : (holds[holdId].map { $0.status == "pending" ? $0.amount : 0 } ?? 0)
            if let payerAccount = accounts[payer], payerAccount.personal,
                payerAccount.balance - price - (payerAccount.held - ownHold) < 0
            {
                chats[event.chatId]?.unpaid = event.minute
                unpaid.append((event.chatId, event.minute))
                pauses.append(.init(chatId: event.chatId, at: Date()))
                reloadChecks.insert(event.memberId)
                continue
            }
            if ownHold > 0 {
                holds[holdId]?.status = "posted"
                holds[holdId]?.changed = true
                accounts[wallet]?.held -= ownHold
                accounts[wallet]?.touched = true
            }
            transfers.append((transferId, free ? "free-minute" : "chat-minute", event.chatId))
            posted.insert(transferId)
            for (account, amount) in legs {
                accounts[account]?.balance += amount
                accounts[account]?.touched = true
                entries.append((transferId, account, amount, accounts[account]?.balance ?? 0))
            }
            // A paid minute that took the wallet below the low-balance mark: told once per crossing.
            if !free, let funds = accounts[wallet], funds.balance < settings.lowBalanceCents, funds.balance + price >= settings.lowBalanceCents {
                lowBalances.append(.init(accountId: event.memberId, what: Billing.MoneyNotice.lowBalance, amountCents: funds.balance, at: Date()))
            }
            guard !free || event.minute == chat.free else { continue }
            // After this minute the wallet pays for the next: hold it, and warn when it covers that one at most.
            let next = ChatCharging.holdId(event.chatId, minute: event.minute + 1)
            if holds[next] == nil, let funds = accounts[wallet], funds.balance - funds.held >= price {
                holds[next] = Hold(account: wallet, amount: price, status: "pending", fresh: true, chat: event.chatId)
                accounts[wallet]?.held += price
                accounts[wallet]?.touched = true
            }
            reloadChecks.insert(event.memberId)
            if let funds = accounts[wallet], funds.balance - funds.held < price {
                warnings.append(.init(chatId: event.chatId, balanceCents: funds.balance, at: Date()))
            }
        }

        // Written in one statement each.
        if !transfers.isEmpty {
            try connection.execute(
                "INSERT INTO transfers (id, kind, chat_id) SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[])",
                transfers.map(\.id), transfers.map(\.kind), transfers.map(\.chat))
            try connection.execute(
                """
                INSERT INTO entries (transfer_id, account_id, amount_cents, balance_after_cents)
                SELECT t, a, m, b FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS e(t, a, m, b, n) ORDER BY n
                """, entries.map(\.transfer), entries.map(\.account), entries.map(\.amount), entries.map(\.after))
        }
        let changedHolds = holds.filter { !$0.value.fresh && $0.value.changed }
        if !changedHolds.isEmpty {
            try connection.execute(
                """
                UPDATE holds SET status = v.s, resolved_at = now() FROM unnest($1::text[], $2::text[]) AS v(id, s)
                WHERE holds.id = v.id AND holds.status = 'pending'
                """, changedHolds.map(\.key), changedHolds.map(\.value.status))
        }
        let newHolds = holds.filter { $0.value.fresh }
        if !newHolds.isEmpty {
            // A hold made and posted within the batch is written posted.
            try connection.execute(
                """
                INSERT INTO holds (id, account_id, amount_cents, chat_id, status, expires_at, resolved_at)
                SELECT i, a, m, c, s, now() + make_interval(secs => $6::int), CASE WHEN s <> 'pending' THEN now() END
                FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::uuid[], $5::text[]) AS h(i, a, m, c, s)
                """, newHolds.map(\.key), newHolds.map(\.value.account), newHolds.map(\.value.amount), newHolds.map(\.value.chat),
                newHolds.map(\.value.status), settings.holdSeconds)
        }
        let touched = accounts.values.filter(\.touched)
        if !touched.isEmpty {
            try connection.execute(
                """
                UPDATE ledger_accounts SET balance_cents = v.b, held_cents = v.h FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS v(id, b, h)
                WHERE ledger_accounts.id = v.id
                """, touched.map(\.id), touched.map(\.balance), touched.map(\.held))
        }
        if !unpaid.isEmpty {
            try connection.execute(
                "UPDATE chats SET unpaid_minute = v.m FROM unnest($1::uuid[], $2::int[]) AS v(id, m) WHERE chats.id = v.id",
                unpaid.map(\.chat), unpaid.map(\.minute))
        }
        try Outbox.append(warnings, on: connection)
        try Outbox.append(lowBalances, on: connection)
        try Outbox.append(pauses, on: connection)
        try Outbox.append(ended, on: connection)
        try AutoReload.check(members: Array(reloadChecks), on: connection)
    }
}
