import Bus
import Foundation
import Logging
import Models
import PlatformSecurity
import ServiceKit
import Store

/// Money into a wallet from a saved card, exactly once per `Idempotency-Key` (Stripe's rules):
/// the key is taken by inserting the top-up first (never checked, then inserted), the first answer
/// is kept and given again for the same key and body, another body with the key is 422, and a
/// second request while the first is still being answered waits for its answer. A charge the
/// processor did not answer stays pending until its webhook or a later ask with the same key
/// says what happened: never guessed.
struct TopUpHandlers: Sendable {
    let database: Database
    let bus: BusClient
    let sealing: PaymentSealing
    let settings: BillingSettings
    let logger: Logger

    /// How long a second request with a key waits for the first one's answer.
    static let answerWait = Duration.seconds(15)

    private enum Start: Sendable {
        case charge(topUp: UUID, card: String)
        case answered(String)
        case inProgress
    }

    func create(_ request: Billing.CreateTopUp.Request, context: RequestContext) async throws -> Billing.TopUp {
        let member = try BillingHandlers.accountId(of: context.caller)
        guard context.caller.has(.member) else { throw ServiceError(.forbidden, "wallets are members'") }
        guard let key = context.header.idempotencyKey, (1...255).contains(key.utf8.count) else {
            throw ServiceError(.badRequest, "a top-up needs an Idempotency-Key header of 1 to 255 characters")
        }
        guard settings.topUpRange.contains(request.amountCents) else {
            throw ServiceError(
                .validationFailed,
                "a top-up is \(settings.topUpRange.lowerBound) to \(settings.topUpRange.upperBound) cents",
                fieldErrors: [FieldError(field: "amountCents", code: "out_of_range")])
        }
        let fingerprint = SHA256.hash(Data("\(request.amountCents)|\(request.paymentMethodId.uuidString)".utf8))
        let deadline = ContinuousClock.now + Self.answerWait
        while true {
            switch try await start(request, member: member, key: key, fingerprint: fingerprint) {
            case .answered(let answer):
                return try Self.replay(answer)
            case .charge(let topUp, let card):
                let outcome = await charge(topUp: topUp, amountCents: request.amountCents, card: card)
                return try Self.replay(try await decide(topUp, outcome: outcome))
            case .inProgress:
                guard ContinuousClock.now < deadline else {
                    throw ServiceError(.idempotencyKeyInUse, "the first request with this Idempotency-Key is still being answered; try again")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Finds the key's top-up, or takes the key by inserting one.
    private func start(_ request: Billing.CreateTopUp.Request, member: UUID, key: String, fingerprint: Data) async throws -> Start {
        let sealing = self.sealing
        return try await database.retryingTransaction(.readCommitted) { connection in
            func existing() throws -> Start? {
                guard
                    let row = try connection.queryOne(
                        "SELECT request_hash, answer::text AS answer FROM top_ups WHERE member_id = $1 AND idempotency_key = $2", member, key)
                else { return nil }
                guard ConstantTime.equals(try row.decode("request_hash"), fingerprint) else {
                    throw ServiceError(.idempotencyKeyReused, "this Idempotency-Key was used with a different request")
                }
                if let answer = try row.decode("answer", as: String?.self) { return .answered(answer) }
                return .inProgress
            }
            if let found = try existing() { return found }
            guard
                let card = try connection.queryOne(
                    "SELECT sealed_reference FROM payment_methods WHERE id = $1 AND member_id = $2", request.paymentMethodId, member)
            else { throw PaymentMethodHandlers.noSuchMethod }
            let reference = try sealing.open(try card.decode("sealed_reference"), method: request.paymentMethodId, member: member)
            let id = UUID()
            let inserted = try connection.queryOne(
                """
                INSERT INTO top_ups (id, member_id, idempotency_key, request_hash, amount_cents, payment_method_id, status)
                VALUES ($1, $2, $3, $4, $5, $6, 'pending')
                ON CONFLICT (member_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id
                """, id, member, key, fingerprint, request.amountCents, request.paymentMethodId)
            if inserted != nil { return .charge(topUp: id, card: reference) }
            // Another request took the key between our look and our insert: it is the first.
            return try existing() ?? .inProgress
        }
    }

    /// Asks the processor (through the integration service) to charge, once per top-up.
    func charge(topUp: UUID, amountCents: Int, card: String) async -> Payments.Charge.Response {
        let id = topUp.uuidString.lowercased()
        do {
            return try await bus.call(
                Payments.Charge.self, .init(idempotencyKey: "top-up-\(id)", amountCents: amountCents, card: card, reference: id),
                as: .system)
        } catch {
            logger.warning("top-up charge outcome unknown", metadata: ["topUp.id": "\(id)", "error": "\(error)"])
            return .init(status: .unknown)
        }
    }

    /// Records what the processor said and the first answer (when none was given yet); returns it.
    func decide(_ topUp: UUID, outcome: Payments.Charge.Response) async throws -> String {
        let settings = self.settings
        return try await database.retryingTransaction(.readCommitted) { connection in
            switch outcome.status {
            case .succeeded:
                try Self.settle(topUp, succeeded: true, paymentId: outcome.paymentId, declineCode: nil, settings: settings, on: connection)
            case .declined:
                try Self.settle(
                    topUp, succeeded: false, paymentId: outcome.paymentId, declineCode: outcome.declineCode, settings: settings,
                    on: connection)
            case .unknown: try connection.execute("UPDATE top_ups SET checked_at = now() WHERE id = $1", topUp)
            }
            return try Self.answer(topUp, on: connection)
        }
    }

    /// A pending top-up decided: the wallet credited from the processor's clearing account (once:
    /// the transfer's id is the top-up's), or the decline recorded. A decided one is left as it is.
    static func settle(
        _ topUp: UUID, succeeded: Bool, paymentId: String?, declineCode: String?, settings: BillingSettings, on connection: Connection
    ) throws {
        guard
            let row = try connection.queryOne(
                "SELECT member_id, amount_cents, status, source FROM top_ups WHERE id = $1 FOR UPDATE", topUp)
        else { return }
        if let paymentId {
            try connection.execute("UPDATE top_ups SET payment_id = $2 WHERE id = $1 AND payment_id IS NULL", topUp, paymentId)
        }
        guard try row.decode("status", as: String.self) == "pending" else { return }
        if succeeded {
            guard let member = try row.decode("member_id", as: UUID?.self) else { return }
            let amount: Int = try row.decode("amount_cents")
            let paused = try ChatCharging.pausedChats(of: member, on: connection)
            let wallet = try Ledger.account("wallet", of: member, on: connection)
            _ = try Ledger.post(
                "top-up:\(topUp.uuidString.lowercased())", kind: "top-up", chatId: nil,
                legs: [.init(account: Ledger.clearing, amountCents: -amount), .init(account: wallet, amountCents: amount)], on: connection)
            // A chat paused for want of funds goes on.
            try ChatCharging.resume(paused, member: member, settings: settings, on: connection)
            try AutoReload.rearm(member: member, on: connection)
            try Outbox.append(
                Billing.MoneyNotice(accountId: member, what: Billing.MoneyNotice.topUpSucceeded, amountCents: amount, at: Date()), on: connection)
        } else if try row.decode("source", as: String.self) == "auto_reload", let member = try row.decode("member_id", as: UUID?.self) {
            try AutoReload.declined(member: member, on: connection)
        }
        try connection.execute(
            "UPDATE top_ups SET status = $2, decline_code = $3, decided_at = now() WHERE id = $1", topUp,
            succeeded ? "succeeded" : "declined", succeeded ? nil : String((declineCode ?? "card_declined").prefix(64)))
    }

    /// The top-up's first answer, written now from its state if none was given yet.
    static func answer(_ topUp: UUID, on connection: Connection) throws -> String {
        guard let row = try connection.queryOne(Self.selectTopUp + " WHERE id = $1", topUp) else {
            throw ServiceError(.internalError, "the top-up vanished")
        }
        if let given = try row.decode("answer", as: String?.self) { return given }
        let current = try Self.topUp(from: row)
        let answer: String
        if current.status == "declined" {
            let error = ServiceError(.cardDeclined, "the card was declined (\(current.declineCode ?? "card_declined"))")
            answer = String(decoding: try WireCoding.encoder().encode(["error": error]), as: UTF8.self)
        } else {
            answer = String(decoding: try WireCoding.encoder().encode(["topUp": current]), as: UTF8.self)
        }
        try connection.execute("UPDATE top_ups SET answer = $2::jsonb WHERE id = $1 AND answer IS NULL", topUp, answer)
        return answer
    }

    private struct StoredAnswer: Decodable {
        var topUp: Billing.TopUp?
        var error: ServiceError?
    }

    static func replay(_ answer: String) throws -> Billing.TopUp {
        let stored = try WireCoding.decoder().decode(StoredAnswer.self, from: Data(answer.utf8))
        if let error = stored.error { throw error }
        guard let topUp = stored.topUp else { throw ServiceError(.internalError, "a stored top-up answer is empty") }
        return topUp
    }

    static let selectTopUp =
        "SELECT id, status, amount_cents, payment_method_id, decline_code, created_at, answer::text AS answer FROM top_ups"

    static func topUp(from row: Row) throws -> Billing.TopUp {
        Billing.TopUp(
            id: try row.decode("id"), status: try row.decode("status"), amountCents: try row.decode("amount_cents"),
            paymentMethodId: try row.decode("payment_method_id"), declineCode: try row.decode("decline_code"),
            createdAt: try row.decode("created_at"))
    }

    func get(_ request: Billing.GetTopUp.Request, caller: Caller) async throws -> Billing.TopUp {
        let member = try BillingHandlers.accountId(of: caller)
        return try await database.withConnection { connection in
            guard let row = try connection.queryOne(Self.selectTopUp + " WHERE id = $1 AND member_id = $2", request.id, member) else {
                throw ServiceError(.notFound, "no such top-up")
            }
            return try Self.topUp(from: row)
        }
    }

    /// What the processor's webhook said (`billing.payment-update`, the integration service only).
    /// Each is applied once: a decided top-up stays decided, a dispute's transfer id is its own.
    func apply(_ update: Billing.PaymentUpdate.Request, caller: Caller) async throws -> Empty {
        guard caller.has(.system) else { throw ServiceError(.forbidden, "payment updates come from the processor") }
        let logger = self.logger
        let settings = self.settings
        try await database.retryingTransaction(.readCommitted) { connection in
            switch update.kind {
            case .succeeded, .failed:
                let byReference = try update.reference.flatMap(UUID.init(uuidString:)).flatMap {
                    try connection.queryOne("SELECT id, amount_cents FROM top_ups WHERE id = $1", $0)
                }
                guard let row = try byReference ?? connection.queryOne("SELECT id, amount_cents FROM top_ups WHERE payment_id = $1", update.paymentId)
                else {
                    logger.warning("payment update for no known top-up", metadata: ["payment.id": "\(update.paymentId)"])
                    return
                }
                let topUp: UUID = try row.decode("id")
                let amount: Int = try row.decode("amount_cents")
                guard update.kind == .failed || amount == update.amountCents else {
                    logger.critical("payment update amount differs from its top-up: not applied", metadata: ["topUp.id": "\(topUp)"])
                    return
                }
                try Self.settle(
                    topUp, succeeded: update.kind == .succeeded, paymentId: update.paymentId, declineCode: update.declineCode,
                    settings: settings, on: connection)
                _ = try Self.answer(topUp, on: connection)
            case .disputed:
                try Self.dispute(update, on: connection, logger: logger)
            case .refunded:
                try Self.cardRefund(update, on: connection, logger: logger)
            case .payoutPaid, .payoutFailed:
                try PayoutHandlers.decide(update, on: connection, logger: logger)
            }
        }
        return Empty()
    }

    /// A disputed charge: its amount leaves the wallet, which may go below zero (it is flagged
    /// for finance), into the disputes account.
    private static func dispute(_ update: Billing.PaymentUpdate.Request, on connection: Connection, logger: Logger) throws {
        guard let dispute = update.disputeId, update.amountCents > 0,
            let row = try connection.queryOne("SELECT member_id FROM top_ups WHERE payment_id = $1 AND status = 'succeeded'", update.paymentId),
            let member = try row.decode("member_id", as: UUID?.self)
        else {
            logger.warning("dispute for no known top-up", metadata: ["payment.id": "\(update.paymentId)"])
            return
        }
        let wallet = try Ledger.account("wallet", of: member, on: connection)
        try connection.execute("UPDATE ledger_accounts SET disputed = true WHERE id = $1", wallet)
        _ = try Ledger.post(
            "dispute:\(dispute)", kind: "dispute", chatId: nil,
            legs: [.init(account: wallet, amountCents: -update.amountCents), .init(account: Ledger.disputes, amountCents: update.amountCents)],
            mayOverdraw: true, on: connection)
    }

    /// A charge refunded to its card by the processor: the amount leaves the wallet for clearing
    /// (the processor takes back what it paid in). Finance refunds only unspent money that way; if
    /// the wallet has spent it, it goes below zero and is flagged for finance, as a dispute does.
    private static func cardRefund(_ update: Billing.PaymentUpdate.Request, on connection: Connection, logger: Logger) throws {
        guard let refund = update.refundId, update.amountCents > 0,
            let row = try connection.queryOne(
                "SELECT member_id, amount_cents FROM top_ups WHERE payment_id = $1 AND status = 'succeeded'", update.paymentId),
            let member = try row.decode("member_id", as: UUID?.self)
        else {
            logger.warning("card refund for no known top-up", metadata: ["payment.id": "\(update.paymentId)"])
            return
        }
        guard update.amountCents <= (try row.decode("amount_cents", as: Int.self)) else {
            logger.critical("card refund larger than its top-up: not applied", metadata: ["payment.id": "\(update.paymentId)"])
            return
        }
        let wallet = try Ledger.account("wallet", of: member, on: connection)
        let transfer = "card-refund:\(refund)"
        // Locked in the ledger's order before the flag is decided, so a delivery twice flags nothing.
        _ = try connection.query("SELECT id FROM ledger_accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", [wallet, Ledger.clearing])
        guard try connection.queryOne("SELECT 1 AS found FROM transfers WHERE id = $1", transfer) == nil else { return }
        try connection.execute("UPDATE ledger_accounts SET disputed = true WHERE id = $1 AND balance_cents < $2", wallet, update.amountCents)
        _ = try Ledger.post(
            transfer, kind: "card-refund", chatId: nil,
            legs: [.init(account: wallet, amountCents: -update.amountCents), .init(account: Ledger.clearing, amountCents: update.amountCents)],
            mayOverdraw: true, on: connection)
    }

    /// Charges queued auto-reloads at once, and asks the processor again about top-ups pending
    /// longer than `reconcileAfter` (the same idempotency key, so nothing is charged twice), a few
    /// at a time; returns how many were decided.
    func reconcile() async throws -> Int {
        let seconds = Int(settings.reconcileAfter.components.seconds)
        let sealing = self.sealing
        let pending = try await database.retryingTransaction(.readCommitted) { connection in
            try connection.query(
                """
                UPDATE top_ups t SET checked_at = now() FROM payment_methods m
                WHERE t.id IN (
                    SELECT id FROM top_ups WHERE status = 'pending'
                      AND ((source = 'auto_reload' AND checked_at IS NULL)
                           OR (created_at < now() - make_interval(secs => $1)
                               AND (checked_at IS NULL OR checked_at < now() - make_interval(secs => $1))))
                    ORDER BY created_at LIMIT 20 FOR UPDATE SKIP LOCKED)
                  AND m.id = t.payment_method_id AND t.member_id IS NOT NULL
                RETURNING t.id, t.amount_cents, t.member_id, m.id AS method_id, m.sealed_reference
                """, seconds
            ).map { row -> (UUID, Int, String) in
                let reference = try sealing.open(
                    try row.decode("sealed_reference"), method: try row.decode("method_id"), member: try row.decode("member_id"))
                return (try row.decode("id"), try row.decode("amount_cents"), reference)
            }
        }
        var decided = 0
        for (topUp, amount, card) in pending {
            let outcome = await charge(topUp: topUp, amountCents: amount, card: card)
            _ = try await decide(topUp, outcome: outcome)
            if outcome.status != .unknown { decided += 1 }
        }
        return decided
    }

    /// Idempotency keys are kept 24 h; then the key is cleared and may be used again.
    static func expireKeys(on connection: Connection) throws -> Int {
        try connection.queryOne(
            """
            WITH expired AS (
                UPDATE top_ups SET idempotency_key = NULL
                WHERE id IN (SELECT id FROM top_ups WHERE idempotency_key IS NOT NULL AND created_at < now() - interval '24 hours'
                             AND status <> 'pending' LIMIT 1000)
                RETURNING 1)
            SELECT count(*)::int AS n FROM expired
            """)?.decode("n", as: Int.self) ?? 0
    }
}
