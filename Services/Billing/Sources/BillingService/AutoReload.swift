import Foundation
import Models
import ServiceKit
import Store

/// Auto-reload: a member's standing order to top up from a saved card whenever their wallet's
/// available balance drops below their threshold, once per crossing. The reload is queued as a
/// pending top-up in the transaction that took the balance down, and charged by the top-up task
/// (no processor call while a chat's minute is being charged); the member's chats paused for
/// funds go on when it succeeds, as with any top-up.
enum AutoReload {
    static func settings(of member: UUID, on connection: Connection) throws -> Billing.Wallet.AutoReload {
        guard
            let row = try connection.queryOne(
                "SELECT enabled, threshold_cents, amount_cents, payment_method_id FROM auto_reload WHERE member_id = $1", member)
        else { return .init(enabled: false, thresholdCents: 0, amountCents: 0) }
        return .init(
            enabled: try row.decode("enabled"), thresholdCents: try row.decode("threshold_cents"), amountCents: try row.decode("amount_cents"),
            paymentMethodId: try row.decode("payment_method_id"))
    }

    /// After the member's wallet paid or held: queues a reload when auto-reload is on and armed and
    /// the available balance is below the threshold. Returns whether a reload is queued or under way.
    @discardableResult
    static func check(member: UUID, on connection: Connection) throws -> Bool {
        if try !check(members: [member], on: connection).isEmpty { return true }
        return try connection.queryOne(
            "SELECT 1 AS found FROM top_ups WHERE member_id = $1 AND source = 'auto_reload' AND status = 'pending'", member) != nil
    }

    /// `check` for several members in one statement (a batch of minutes); the members it queued a reload for.
    @discardableResult
    static func check(members: [UUID], on connection: Connection) throws -> Set<UUID> {
        guard !members.isEmpty else { return [] }
        let due = try connection.query(
            """
            UPDATE auto_reload r SET armed = false, updated_at = now() FROM ledger_accounts a
            WHERE r.member_id = ANY($1::uuid[]) AND r.enabled AND r.armed AND a.kind = 'wallet' AND a.owner_id = r.member_id
              AND a.balance_cents - a.held_cents < r.threshold_cents
            RETURNING r.member_id, r.amount_cents, r.payment_method_id
            """, members)
        var queued = Set<UUID>()
        for reload in due {
            let member: UUID = try reload.decode("member_id")
            try connection.execute(
                """
                INSERT INTO top_ups (id, member_id, request_hash, amount_cents, payment_method_id, status, source)
                VALUES ($1, $2, $3, $4, $5, 'pending', 'auto_reload')
                """, UUID(), member, Data(), try reload.decode("amount_cents", as: Int.self),
                try reload.decode("payment_method_id", as: UUID.self))
            queued.insert(member)
        }
        return queued
    }

    /// After the wallet was credited: armed again once the available balance is back at the threshold.
    static func rearm(member: UUID, on connection: Connection) throws {
        try connection.execute(
            """
            UPDATE auto_reload r SET armed = true, updated_at = now() FROM ledger_accounts a
            WHERE r.member_id = $1 AND NOT r.armed AND a.kind = 'wallet' AND a.owner_id = r.member_id
              AND a.balance_cents - a.held_cents >= r.threshold_cents
            """, member)
    }

    /// A declined reload turns auto-reload off: the member turns it on again (with another card).
    static func declined(member: UUID, on connection: Connection) throws {
        try connection.execute("UPDATE auto_reload SET enabled = false, updated_at = now() WHERE member_id = $1", member)
    }
}

/// `PUT /v1/me/wallet/auto-reload`.
struct AutoReloadHandlers: Sendable {
    let database: Database
    let settings: BillingSettings

    func set(_ request: Billing.SetAutoReload.Request, caller: Caller) async throws -> Billing.Wallet.AutoReload {
        let member = try BillingHandlers.accountId(of: caller)
        guard caller.has(.member) else { throw ServiceError(.forbidden, "wallets are members'") }
        var rules = FieldRules()
        rules.number(request.amountCents, field: "amountCents", range: settings.topUpRange)
        rules.number(request.thresholdCents, field: "thresholdCents", range: 0...settings.topUpRange.upperBound)
        try rules.check()
        return try await database.retryingTransaction(.readCommitted) { connection in
            guard
                try connection.queryOne(
                    "SELECT 1 AS found FROM payment_methods WHERE id = $1 AND member_id = $2", request.paymentMethodId, member) != nil
            else { throw PaymentMethodHandlers.noSuchMethod }
            try connection.execute(
                """
                INSERT INTO auto_reload (member_id, enabled, threshold_cents, amount_cents, payment_method_id) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (member_id) DO UPDATE SET enabled = $2, threshold_cents = $3, amount_cents = $4, payment_method_id = $5,
                    armed = true, updated_at = now()
                """, member, request.enabled, request.thresholdCents, request.amountCents, request.paymentMethodId)
            _ = try Ledger.account("wallet", of: member, on: connection)
            try AutoReload.check(member: member, on: connection)
            return try AutoReload.settings(of: member, on: connection)
        }
    }
}
