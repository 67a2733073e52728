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

    /// Posts transfer `id` (its cause) with `legs`, inside the caller's transaction. The accounts
    /// are locked in id order (so concurrent transfers cannot deadlock), then the cause is looked
    /// up (a concurrent poster of the same cause waited on the same locks), then the funds checked.
    static func post(_ id: String, kind: String, chatId: UUID?, legs: [Leg], on connection: Connection) throws -> Outcome {
        guard legs.reduce(0, { $0 + $1.amountCents }) == 0, legs.allSatisfy({ $0.amountCents != 0 }) else {
            throw ServiceError(.internalError, "a transfer's legs must sum to zero")
        }
        var balances: [UUID: (balance: Int, wallet: Bool, disputed: Bool)] = [:]
        for account in Set(legs.map(\.account)).sorted(by: { $0.uuidString < $1.uuidString }) {
            guard
                let row = try connection.queryOne(
                    "SELECT balance_cents, kind, disputed FROM ledger_accounts WHERE id = $1 FOR UPDATE", account)
            else { throw ServiceError(.internalError, "no ledger account \(account)") }
            balances[account] = (try row.decode("balance_cents"), try row.decode("kind", as: String.self) == "wallet", try row.decode("disputed"))
        }
        if try connection.queryOne("SELECT 1 AS found FROM transfers WHERE id = $1", id) != nil { return .alreadyPosted }
        var after = balances
        for leg in legs { after[leg.account]?.balance += leg.amountCents }
        if after.values.contains(where: { $0.wallet && !$0.disputed && $0.balance < 0 }) { return .insufficientFunds }
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

    /// The ledger's own proof of itself (`billing.ledger.check`).
    static func check(on connection: Connection) throws -> Billing.LedgerCheck.Response {
        let mismatched = try connection.query(
            """
            SELECT a.id FROM ledger_accounts a LEFT JOIN entries e ON e.account_id = a.id
            GROUP BY a.id, a.balance_cents HAVING a.balance_cents <> coalesce(sum(e.amount_cents), 0) ORDER BY a.id LIMIT 100
            """
        ).map { try $0.decode("id", as: UUID.self) }
        let unbalanced = try connection.query(
            "SELECT transfer_id FROM entries GROUP BY transfer_id HAVING sum(amount_cents) <> 0 ORDER BY transfer_id LIMIT 100"
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
