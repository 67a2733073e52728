import Bus
import Foundation
import Models
import ServiceKit
import Store

/// The satisfaction guarantee: a member may have a chat's money back within
/// `refundWindowHours` of its end, up to `refundMaxCents`, at most once per `refundIntervalDays`,
/// decided at once by those rules (the answer names the one that decided); finance staff may
/// override with a reason, recorded in the member's access log. The refunds account pays: the
/// advisor keeps what they earned.
struct RefundHandlers: Sendable {
    let database: Database
    let bus: BusClient
    let settings: BillingSettings

    static let columns = "id, chat_id, status, amount_cents, rule, decided_at"

    static func refund(from row: Row) throws -> Billing.Refund {
        Billing.Refund(
            id: try row.decode("id"), chatId: try row.decode("chat_id"), status: try row.decode("status"),
            amountCents: try row.decode("amount_cents"), rule: try row.decode("rule"), decidedAt: try row.decode("decided_at"))
    }

    private static let noSuchChat = ServiceError(.notFound, "no such chat")

    /// Credits `amount` to the member's wallet from the refunds account, once per refund.
    private static func credit(_ refund: UUID, member: UUID, amount: Int, chat: UUID, on connection: Connection) throws {
        guard amount > 0 else { return }
        let wallet = try Ledger.account("wallet", of: member, on: connection)
        _ = try Ledger.post(
            "refund:\(refund.uuidString.lowercased())", kind: "refund", chatId: chat,
            legs: [.init(account: Ledger.refunds, amountCents: -amount), .init(account: wallet, amountCents: amount)], on: connection)
    }

    func request(_ request: Billing.RequestRefund.Request, caller: Caller) async throws -> Billing.Refund {
        let member = try BillingHandlers.accountId(of: caller)
        guard caller.has(.member) else { throw ServiceError(.forbidden, "refunds are members'") }
        var rules = FieldRules()
        rules.words(request.reason, field: "reason", range: 1...1000)
        try rules.check()
        let settings = self.settings
        return try await database.retryingTransaction(.readCommitted) { connection in
            guard
                let chat = try connection.queryOne(
                    "SELECT settled_at, coalesce(ended_at, settled_at) AS ended_at FROM chats WHERE id = $1 AND member_id = $2",
                    request.chatId, member)
            else { throw Self.noSuchChat }
            guard let ended = try chat.decode("ended_at", as: Date?.self) else {
                throw ServiceError(.conflict, "a refund is asked for once the chat has ended")
            }
            // One member's refunds are decided one at a time: "once per 30 days" holds under concurrent asks.
            let wallet = try Ledger.account("wallet", of: member, on: connection)
            _ = try connection.queryOne("SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE", wallet)
            if try connection.queryOne("SELECT 1 AS found FROM refunds WHERE chat_id = $1 AND rule <> 'finance_override'", request.chatId) != nil {
                throw ServiceError(.refundAlreadyRequested, "a refund of this chat was asked for already")
            }
            let charged = try Ledger.walletPaid(for: request.chatId, on: connection)
            let recent = try connection.queryOne(
                """
                SELECT 1 AS found FROM refunds WHERE member_id = $1 AND status = 'approved' AND rule = 'guarantee'
                  AND decided_at > now() - make_interval(days => $2::int)
                """, member, settings.refundIntervalDays) != nil
            let (status, rule, amount): (String, String, Int) =
                if charged == 0 { ("declined", "nothing_charged", 0) }
                else if ended < Date().addingTimeInterval(-Double(settings.refundWindowHours) * 3600) { ("declined", "window_passed", 0) }
                else if recent { ("declined", "recent_refund", 0) }
                else { ("approved", "guarantee", min(charged, settings.refundMaxCents)) }
            let id = UUID()
            guard
                let row = try connection.queryOne(
                    """
                    INSERT INTO refunds (id, chat_id, member_id, status, amount_cents, rule, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)
                    RETURNING \(Self.columns)
                    """, id, request.chatId, member, status, amount, rule, request.reason)
            else { throw ServiceError(.internalError, "the refund was not recorded") }
            if status == "approved" { try Self.credit(id, member: member, amount: amount, chat: request.chatId, on: connection) }
            try Outbox.append(
                Billing.MoneyNotice(
                    accountId: member, what: status == "approved" ? Billing.MoneyNotice.refundApproved : Billing.MoneyNotice.refundDeclined,
                    amountCents: amount, at: Date()), on: connection)
            return try Self.refund(from: row)
        }
    }

    func override(_ request: Billing.OverrideRefund.Request, caller: Caller) async throws -> Billing.Refund {
        guard let staff = caller.accountId else { throw ServiceError(.unauthenticated, "sign in first") }
        guard caller.has(.finance) else { throw ServiceError(.forbidden, "refund overrides are finance staff's") }
        var rules = FieldRules()
        rules.reason(request.reason)
        rules.number(request.amountCents, field: "amountCents", range: 1...1_000_000)
        try rules.check()
        let (member, charged) = try await database.withConnection { connection -> (UUID?, Int) in
            let member = try connection.queryOne("SELECT member_id FROM chats WHERE id = $1 AND settled_at IS NOT NULL", request.chatId)?
                .decode("member_id", as: UUID?.self)
            return (member, try Ledger.walletPaid(for: request.chatId, on: connection))
        }
        guard let member else { throw Self.noSuchChat }
        guard request.amountCents <= charged else {
            throw ServiceError(
                .validationFailed, "a refund is at most what the chat cost (\(charged) cents)",
                fieldErrors: [FieldError(field: "amountCents", code: "out_of_range")])
        }
        // Recorded in the member's access log first: an override that then fails still shows.
        _ = try await bus.call(
            Accounts.RecordStaffAccess.self, .init(subjectId: member, action: "staff.refund-override", reason: request.reason), as: caller)
        return try await database.retryingTransaction(.readCommitted) { connection in
            let wallet = try Ledger.account("wallet", of: member, on: connection)
            _ = try connection.queryOne("SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE", wallet)
            if try connection.queryOne(
                "SELECT 1 AS found FROM refunds WHERE chat_id = $1 AND status = 'approved'", request.chatId) != nil
            {
                throw ServiceError(.refundAlreadyRequested, "this chat was refunded already")
            }
            let id = UUID()
            guard
                let row = try connection.queryOne(
                    """
                    INSERT INTO refunds (id, chat_id, member_id, status, amount_cents, rule, decided_by, staff_reason)
                    VALUES ($1, $2, $3, 'approved', $4, 'finance_override', $5, $6) RETURNING \(Self.columns)
                    """, id, request.chatId, member, request.amountCents, staff, request.reason)
            else { throw ServiceError(.internalError, "the refund was not recorded") }
            try Self.credit(id, member: member, amount: request.amountCents, chat: request.chatId, on: connection)
            try Outbox.append(
                Billing.MoneyNotice(accountId: member, what: Billing.MoneyNotice.refundApproved, amountCents: request.amountCents, at: Date()),
                on: connection)
            return try Self.refund(from: row)
        }
    }
}
