import Foundation
import Models
import Store

/// The double-entry ledger: every movement of money is a transfer whose id is its cause, whose
/// legs sum to zero, written once with each account's new balance; nothing is ever updated but
/// the balance kept beside the entries, in the same transaction.
enum Ledger {
    /// The platform's own accounts (created by the first migration).
    static let revenue = UUID(uuidString: "00000000-0000-0000-0000-00000000000A")!
    static let promotions = UUID(uuidString: "00000000-0000-0000-0000-00000000000B")!
    /// Money the processor owes the platform: top-ups come in from it.
    static let clearing = UUID(uuidString: "00000000-0000-0000-0000-00000000000C")!
    /// What the satisfaction guarantee gave back.
    static let refunds = UUID(uuidString: "00000000-0000-0000-0000-00000000000D")!
    static let disputes = UUID(uuidString: "00000000-0000-0000-0000-00000000000E")!

    /// One leg of a transfer: `amountCents` into (positive) or out of (negative) an account.
    struct Leg: Sendable {
        let account: UUID
        let amountCents: Int
    }

    enum Outcome: Equatable {
        case posted
        /// This cause was applied before; nothing was written.
        case alreadyPosted
        /// A wallet would go below zero; nothing was written.
        case insufficientFunds
    }

    /// The person's ledger account of `kind` (`wallet`, `earnings`), made on first use.
    static func account(_ kind: String, of owner: UUID, on connection: Connection) throws -> UUID {
        try connection.execute(
            """
            INSERT INTO ledger_accounts (id, kind, owner_id) VALUES ($1, $2, $3)
            ON CONFLICT (kind, owner_id) WHERE owner_id IS NOT NULL DO NOTHING
            """, UUID(), kind, owner)
        guard let row = try connection.queryOne("SELECT id FROM ledger_accounts WHERE kind = $1 AND owner_id = $2", kind, owner)
        else { throw ServiceError(.internalError, "a ledger account could not be made") }
        return try row.decode("id")
    }

    /// The balance of the person's account of `kind` (0 before it exists).
    static func balance(_ kind: String, of owner: UUID, on connection: Connection) throws -> Int {
        try connection.queryOne("SELECT balance_cents FROM ledger_accounts WHERE kind = $1 AND owner_id = $2", kind, owner)?
            .decode("balance_cents", as: Int.self) ?? 0
    }

    /// What the member's wallet paid for `chat`'s minutes.
    static func walletPaid(for chat: UUID, on connection: Connection) throws -> Int {
        try connection.queryOne(
            """
            SELECT coalesce(-sum(e.amount_cents), 0)::bigint AS charged FROM transfers t
            JOIN entries e ON e.transfer_id = t.id JOIN ledger_accounts a ON a.id = e.account_id AND a.kind = 'wallet'
            WHERE t.chat_id = $1 AND t.kind = 'chat-minute'
            """, chat)?.decode("charged", as: Int.self) ?? 0
    }

    /// What a person's account of `kind` holds and has held for pending causes (0 before it exists).
    static func funds(_ kind: String, of owner: UUID, on connection: Connection) throws -> (balance: Int, held: Int) {
        guard
            let row = try connection.queryOne(
                "SELECT balance_cents, held_cents FROM ledger_accounts WHERE kind = $1 AND owner_id = $2", kind, owner)
        else { return (0, 0) }
        return (try row.decode("balance_cents"), try row.decode("held_cents"))
    }

    enum HoldOutcome: Equatable {
        case held
        /// This cause holds already (pending, posted or voided); nothing was written.
        case alreadyHeld
        /// The account's available balance does not cover it; nothing was written.
        case insufficientFunds
    }

    /// Places hold `id` (its cause) of `amountCents` on `account` until `expiresAt`, inside the
    /// caller's transaction: refused when a wallet's available balance (balance − held) would go
    /// below zero.
    static func hold(
        _ id: String, account: UUID, amountCents: Int, chatId: UUID?, expiresAt: Date, on connection: Connection
    ) throws -> HoldOutcome {
        guard amountCents > 0 else { throw ServiceError(.internalError, "a hold must hold money") }
        guard
            let row = try connection.queryOne(
                "SELECT balance_cents, held_cents, kind FROM ledger_accounts WHERE id = $1 FOR UPDATE", account)
        else { throw ServiceError(.internalError, "no ledger account \(account)") }
        if try connection.queryOne("SELECT 1 AS found FROM holds WHERE id = $1", id) != nil { return .alreadyHeld }
        let available = try row.decode("balance_cents", as: Int.self) - (try row.decode("held_cents", as: Int.self))
        if try row.decode("kind", as: String.self) == "wallet", available < amountCents { return .insufficientFunds }
        try connection.execute(
            "INSERT INTO holds (id, account_id, amount_cents, chat_id, expires_at) VALUES ($1, $2, $3, $4, $5)", id, account, amountCents,
            chatId, expiresAt)
        try connection.execute("UPDATE ledger_accounts SET held_cents = held_cents + $2 WHERE id = $1", account, amountCents)
        return .held
    }

    /// Ends hold `id` if it is pending: `posted` when its cause is being charged (the caller posts
    /// the transfer next), `voided` when it will not be. Returns whether it was pending.
    @discardableResult
    static func release(_ id: String, as outcome: String, on connection: Connection) throws -> Bool {
        guard
            let hold = try connection.queryOne(
                "SELECT account_id FROM holds WHERE id = $1 AND status = 'pending'", id)
        else { return false }
        // The account first, as every posting locks it: the same lock order everywhere.
        _ = try connection.queryOne("SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE", try hold.decode("account_id", as: UUID.self))
        return try releaseLocked(id, as: outcome, on: connection) != nil
    }

    /// Ends pending hold `id` whose account the caller has locked; its account and amount.
    private static func releaseLocked(_ id: String, as outcome: String, on connection: Connection) throws -> (account: UUID, amount: Int)? {
        guard
            let hold = try connection.queryOne(
                """
                UPDATE holds SET status = $2, resolved_at = now() WHERE id = $1 AND status = 'pending'
                RETURNING account_id, amount_cents
                """, id, outcome)
        else { return nil }
        let account: UUID = try hold.decode("account_id")
        let amount: Int = try hold.decode("amount_cents")
        try connection.execute("UPDATE ledger_accounts SET held_cents = held_cents - $2 WHERE id = $1", account, amount)
        return (account, amount)
    }

    /// Posts transfer `id` (its cause) with `legs`, inside the caller's transaction. The accounts
    /// are locked in id order (so concurrent transfers cannot deadlock), then the cause is looked
    /// up (a concurrent poster of the same cause waited on the same locks), then the funds checked.
    ///
    /// `releasing` names the hold this transfer turns into (two-phase): it is posted once the
    /// accounts are locked, so the transfer's locks are taken in the one order every transfer uses.
    static func post(
        _ id: String, kind: String, chatId: UUID?, legs: [Leg], releasing hold: String? = nil, mayOverdraw: Bool = false,
        on connection: Connection
    ) throws -> Outcome {
        guard legs.reduce(0, { $0 + $1.amountCents }) == 0, legs.allSatisfy({ $0.amountCents != 0 }) else {
            throw ServiceError(.internalError, "a transfer's legs must sum to zero")
        }
        var balances: [UUID: (balance: Int, held: Int, wallet: Bool)] = [:]
        for account in Set(legs.map(\.account)).sorted(by: { $0.uuidString < $1.uuidString }) {
            guard
                let row = try connection.queryOne(
                    "SELECT balance_cents, held_cents, kind FROM ledger_accounts WHERE id = $1 FOR UPDATE", account)
            else { throw ServiceError(.internalError, "no ledger account \(account)") }
            // A person's accounts (wallet, earnings) never pay out more than they hold.
            let personal = ["wallet", "earnings"].contains(try row.decode("kind", as: String.self))
            balances[account] = (try row.decode("balance_cents"), try row.decode("held_cents"), personal)
        }
        if try connection.queryOne("SELECT 1 AS found FROM transfers WHERE id = $1", id) != nil { return .alreadyPosted }
        var pendingHold: (account: UUID, amount: Int)?
        if let hold,
            let row = try connection.queryOne("SELECT account_id, amount_cents FROM holds WHERE id = $1 AND status = 'pending'", hold)
        {
            let account: UUID = try row.decode("account_id")
            let amount: Int = try row.decode("amount_cents")
            balances[account]?.held -= amount
            pendingHold = (account, amount)
        }
        var after = balances
        for leg in legs { after[leg.account]?.balance += leg.amountCents }
        // A wallet paying out must keep what is held for other causes (a caller posting a held
        // cause releases its hold first); only a dispute may take it below zero.
        let debited = Set(legs.filter { $0.amountCents < 0 }.map(\.account))
        if !mayOverdraw, after.contains(where: { debited.contains($0.key) && $0.value.wallet && $0.value.balance - $0.value.held < 0 }) {
            return .insufficientFunds
        }
        if let hold, pendingHold != nil { _ = try releaseLocked(hold, as: "posted", on: connection) }
        try connection.execute("INSERT INTO transfers (id, kind, chat_id) VALUES ($1, $2, $3)", id, kind, chatId)
        var running = balances.mapValues(\.balance)
        for leg in legs {
            running[leg.account, default: 0] += leg.amountCents
            try connection.execute(
                "INSERT INTO entries (transfer_id, account_id, amount_cents, balance_after_cents) VALUES ($1, $2, $3, $4)", id,
                leg.account, leg.amountCents, running[leg.account] ?? 0)
        }
        for (account, balance) in running {
            try connection.execute("UPDATE ledger_accounts SET balance_cents = $2 WHERE id = $1", account, balance)
        }
        return .posted
    }

    /// Voids holds past their expiry (a chat whose end never came, a crash between steps), a
    /// batch at a time; returns how many.
    static func voidExpiredHolds(on connection: Connection) throws -> Int {
        let expired = try connection.query(
            // Not locked here: `release` locks the account before the hold, as every path does.
            "SELECT id FROM holds WHERE status = 'pending' AND expires_at < now() ORDER BY expires_at LIMIT 500")
        var voided = 0
        for hold in expired where try release(try hold.decode("id"), as: "voided", on: connection) { voided += 1 }
        return voided
    }

    /// The ledger's own proof of itself (`billing.ledger.check`).
    static func check(on connection: Connection) throws -> Billing.LedgerCheck.Response {
        // Every balance is the sum of its entries, and every held amount the sum of its pending
        // holds; an entry whose account does not exist counts as that account mismatched.
        // One pass over the entries (a sum per account), not a lookup per account.
        let mismatched = try connection.query(
            """
            WITH sums AS (SELECT account_id, sum(amount_cents) AS total FROM entries GROUP BY account_id),
                 held AS (SELECT account_id, sum(amount_cents) AS total FROM holds WHERE status = 'pending' GROUP BY account_id)
            SELECT coalesce(a.id, s.account_id) AS id
            FROM ledger_accounts a FULL JOIN sums s ON s.account_id = a.id LEFT JOIN held h ON h.account_id = a.id
            WHERE a.id IS NULL OR a.balance_cents <> coalesce(s.total, 0) OR a.held_cents <> coalesce(h.total, 0)
            ORDER BY 1 LIMIT 100
            """
        ).map { try $0.decode("id", as: UUID.self) }
        // Every transfer's entries sum to zero; entries of a transfer that does not exist do not balance.
        let unbalanced = try connection.query(
            """
            SELECT e.transfer_id FROM entries e LEFT JOIN transfers t ON t.id = e.transfer_id
            GROUP BY e.transfer_id HAVING sum(e.amount_cents) <> 0 OR bool_or(t.id IS NULL) ORDER BY e.transfer_id LIMIT 100
            """
        ).map { try $0.decode("transfer_id", as: String.self) }
        let negative = try connection.query(
            "SELECT id FROM ledger_accounts WHERE kind = 'wallet' AND balance_cents < 0 AND NOT disputed ORDER BY id LIMIT 100"
        ).map { try $0.decode("id", as: UUID.self) }
        guard
            let totals = try connection.queryOne(
                """
                SELECT (SELECT count(*) FROM ledger_accounts)::int AS accounts, (SELECT count(*) FROM transfers)::int AS transfers,
                    (SELECT count(*) FROM entries)::int AS entries, (SELECT coalesce(sum(amount_cents), 0) FROM entries)::bigint AS total
                """)
        else { throw ServiceError(.internalError, "the ledger could not be read") }
        let total: Int = try totals.decode("total")
        return Billing.LedgerCheck.Response(
            ok: mismatched.isEmpty && unbalanced.isEmpty && negative.isEmpty && total == 0, accounts: try totals.decode("accounts"),
            transfers: try totals.decode("transfers"), entries: try totals.decode("entries"), totalCents: total,
            mismatchedAccounts: mismatched, unbalancedTransfers: unbalanced, negativeWallets: negative)
    }
}
