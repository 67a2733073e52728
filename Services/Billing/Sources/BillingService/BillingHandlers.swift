import Foundation
import Models
import ServiceKit
import Store

/// The ledger as its people see it: a member's wallet and statement, an advisor's earnings,
/// finance's proof of the whole.
struct BillingHandlers: Sendable {
    let database: Database
    let settings: BillingSettings

    static func accountId(of caller: Caller) throws -> UUID {
        guard let id = caller.accountId else { throw ServiceError(.unauthenticated, "sign in first") }
        return id
    }

    func wallet(caller: Caller) async throws -> Billing.Wallet.Response {
        let member = try Self.accountId(of: caller)
        guard caller.has(.member) else { throw ServiceError(.forbidden, "wallets are members'") }
        let settings = self.settings
        return try await database.withConnection { connection in
            let funds = try Ledger.funds("wallet", of: member, on: connection)
            return Billing.Wallet.Response(
                balanceCents: funds.balance, heldCents: funds.held, availableCents: funds.balance - funds.held,
                freeChatsLeft: try ChatCharging.freeChatsLeft(member, settings: settings, on: connection),
                autoReload: try AutoReload.settings(of: member, on: connection))
        }
    }

    func statement(_ page: PageRequest, caller: Caller) async throws -> Page<Billing.StatementLine> {
        let owner = try Self.accountId(of: caller)
        let cursor = try PageCursor(page)
        // A member's free minutes are paid by promotions, not their wallet: they are shown too, at
        // no cost, keyed by the promotions entry (the wallet's balance as it stood then).
        let rows = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT e.id, e.at, e.amount_cents, e.balance_after_cents, t.kind AS transfer_kind, t.chat_id, a.kind AS account_kind
                FROM entries e JOIN ledger_accounts a ON a.id = e.account_id JOIN transfers t ON t.id = e.transfer_id
                WHERE a.owner_id = $1 AND e.id < $2
                UNION ALL
                SELECT e.id, e.at, 0, coalesce((
                        SELECT w.balance_after_cents FROM entries w JOIN ledger_accounts wa ON wa.id = w.account_id
                        WHERE wa.kind = 'wallet' AND wa.owner_id = $1 AND w.id < e.id ORDER BY w.id DESC LIMIT 1), 0),
                    t.kind, t.chat_id, 'wallet'
                FROM chats c JOIN transfers t ON t.chat_id = c.id AND t.kind = 'free-minute'
                JOIN entries e ON e.transfer_id = t.id AND e.account_id = $4
                WHERE c.member_id = $1 AND e.id < $2
                ORDER BY id DESC LIMIT $3
                """, owner, cursor.before, cursor.limit + 1, Ledger.promotions)
        }
        return try cursor.page(rows, column: "id") { row in
            // An advisor's side of a minute is an earning, whichever account paid it.
            let kind: String = try row.decode("account_kind") == "earnings" ? "earning" : try row.decode("transfer_kind")
            return Billing.StatementLine(
                id: try row.decode("id"), at: try row.decode("at"), kind: kind, amountCents: try row.decode("amount_cents"),
                balanceAfterCents: try row.decode("balance_after_cents"), chatId: try row.decode("chat_id"))
        }
    }

    func earnings(caller: Caller) async throws -> Billing.Earnings.Response {
        let advisor = try Self.accountId(of: caller)
        guard caller.has(.advisor) else { throw ServiceError(.forbidden, "earnings are advisors'") }
        let (available, pending, paid) = try await database.withConnection { connection -> (Int, Int, Int) in
            let payouts = try connection.queryOne(
                """
                SELECT coalesce(sum(amount_cents) FILTER (WHERE status IN ('requested', 'sent')), 0)::bigint AS pending,
                       coalesce(sum(amount_cents) FILTER (WHERE status = 'paid'), 0)::bigint AS paid
                FROM payouts WHERE advisor_id = $1
                """, advisor)
            return (
                try Ledger.balance("earnings", of: advisor, on: connection), try payouts?.decode("pending", as: Int.self) ?? 0,
                try payouts?.decode("paid", as: Int.self) ?? 0
            )
        }
        return Billing.Earnings.Response(
            availableCents: available, pendingCents: pending, paidOutCents: paid, commissionPercent: settings.commissionPercent)
    }

    func authorizeChat(_ request: Billing.AuthorizeChat.Request, caller: Caller) async throws -> Empty {
        guard caller.has(.system) else { throw ServiceError(.forbidden, "only the chat service asks") }
        let settings = self.settings
        let covered = try await database.retryingTransaction(.readCommitted) { connection -> Bool in
            if try ChatCharging.freeChatsLeft(request.memberId, with: request.advisorId, settings: settings, on: connection) > 0 {
                return true
            }
            // The first minute is held now, so two chats cannot both count on the same money.
            guard let chat = request.chatId else {
                let funds = try Ledger.funds("wallet", of: request.memberId, on: connection)
                return funds.balance - funds.held >= request.pricePerMinuteCents
            }
            guard request.pricePerMinuteCents > 0 else { return true }
            let held = try ChatCharging.holdMinute(
                1, chat: chat, member: request.memberId, price: request.pricePerMinuteCents, settings: settings, on: connection)
            // Auto-reload covers what the wallet does not: the chat pauses until the reload arrives.
            let reloading = try AutoReload.check(member: request.memberId, on: connection)
            return held || reloading
        }
        guard covered else {
            throw ServiceError(.insufficientFunds, "add funds first: neither free minutes nor your wallet cover a first minute")
        }
        return Empty()
    }

    func ledgerCheck(caller: Caller) async throws -> Billing.LedgerCheck.Response {
        guard caller.has(.system) || caller.has(.finance) else {
            if caller.accountId == nil { throw ServiceError(.unauthenticated, "sign in first") }
            throw ServiceError(.forbidden, "the ledger check is finance staff's")
        }
        // One snapshot for every count and sum.
        return try await database.retryingTransaction(.readCommitted) { connection in
            try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return try Ledger.check(on: connection)
        }
    }
}

/// What billing holds about a person: their statement; erasure detaches them from the ledger,
/// whose entries stay (financial records are kept).
enum BillingPrivacy {
    struct ExportLine: Codable {
        var at: Date
        var account: String
        var kind: String
        var amountCents: Int
        var balanceAfterCents: Int
        var chatId: UUID?
    }

    static let hooks = PrivacyHooks(
        export: { request, connection in
            let lines = try connection.query(
                """
                SELECT e.at, a.kind AS account, t.kind, e.amount_cents, e.balance_after_cents, t.chat_id
                FROM entries e JOIN ledger_accounts a ON a.id = e.account_id JOIN transfers t ON t.id = e.transfer_id
                WHERE a.owner_id = $1 ORDER BY e.id
                """, request.accountId
            ).map { row in
                ExportLine(
                    at: try row.decode("at"), account: try row.decode("account"), kind: try row.decode("kind"),
                    amountCents: try row.decode("amount_cents"), balanceAfterCents: try row.decode("balance_after_cents"),
                    chatId: try row.decode("chat_id"))
            }
            let cards = try connection.query(
                "SELECT id, brand, last4, exp_month, exp_year, created_at FROM payment_methods WHERE member_id = $1 ORDER BY created_at",
                request.accountId
            ).map(PaymentMethodHandlers.method(from:))
            let topUps = try connection.query(
                TopUpHandlers.selectTopUp + " WHERE member_id = $1 ORDER BY created_at", request.accountId
            ).map(TopUpHandlers.topUp(from:))
            let refunds = try connection.query(
                "SELECT \(RefundHandlers.columns) FROM refunds WHERE member_id = $1 ORDER BY decided_at", request.accountId
            ).map(RefundHandlers.refund(from:))
            let payouts = try connection.query(
                "SELECT \(PayoutHandlers.columns) FROM payouts WHERE advisor_id = $1 ORDER BY seq", request.accountId
            ).map(PayoutHandlers.payout(from:))
            struct TaxInfoLine: Encodable {
                var form: String
                var taxIdLast4: String
                var certifiedAt: Date
            }
            let tax = try connection.queryOne(
                "SELECT form, tax_id_last4, certified_at FROM tax_info WHERE advisor_id = $1", request.accountId
            ).map { TaxInfoLine(form: try $0.decode("form"), taxIdLast4: try $0.decode("tax_id_last4"), certifiedAt: try $0.decode("certified_at")) }
            struct Section: Encodable {
                var statement: [ExportLine]
                var paymentMethods: [Billing.PaymentMethod]
                var topUps: [Billing.TopUp]
                var refunds: [Billing.Refund]
                var payouts: [Billing.Payout]
                var taxInfo: TaxInfoLine?
            }
            let section = Section(
                statement: lines, paymentMethods: cards, topUps: topUps, refunds: refunds, payouts: payouts, taxInfo: tax)
            return try JSONValue(encoding: section)
        },
        erase: { id, connection in
            try connection.execute("UPDATE ledger_accounts SET owner_id = NULL WHERE owner_id = $1", id)
            try connection.execute("UPDATE chats SET member_id = NULL WHERE member_id = $1", id)
            try connection.execute("UPDATE chats SET advisor_id = NULL WHERE advisor_id = $1", id)
            try connection.execute("DELETE FROM free_grants WHERE member_id = $1 OR advisor_id = $1", id)
            // Saved cards go with their sealed references; top-ups stay as financial records, detached.
            try connection.execute("DELETE FROM payment_methods WHERE member_id = $1", id)
            try connection.execute("DELETE FROM card_holders WHERE member_id = $1", id)
            try connection.execute("DELETE FROM auto_reload WHERE member_id = $1", id)
            try connection.execute("UPDATE top_ups SET member_id = NULL, idempotency_key = NULL WHERE member_id = $1", id)
            try connection.execute("UPDATE refunds SET member_id = NULL, reason = NULL WHERE member_id = $1", id)
            // Tax data goes; payouts stay as financial records, detached (one still requested is not sent).
            try connection.execute("DELETE FROM tax_info WHERE advisor_id = $1", id)
            try connection.execute("UPDATE payouts SET advisor_id = NULL, idempotency_key = NULL WHERE advisor_id = $1", id)
        })
}
