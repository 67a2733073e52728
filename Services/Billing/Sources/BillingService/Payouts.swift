import Bus
import Foundation
import Logging
import Models
import PlatformSecurity
import ServiceKit
import Store

/// The advisor's side of the money: payouts of earnings (asked for, or made by the twice-monthly
/// run) and the tax information they need. Asking sets the amount aside in the same transaction
/// as the payout's row (so the answer and the money cannot disagree); a task hands it to the
/// processor, whose webhook says whether it was paid.
struct PayoutHandlers: Sendable {
    let database: Database
    let bus: BusClient
    let settings: BillingSettings
    let logger: Logger

    static let columns = "id, status, amount_cents, scheduled_for IS NOT NULL AS scheduled, created_at"

    static func payout(from row: Row) throws -> Billing.Payout {
        Billing.Payout(
            id: try row.decode("id"), status: try row.decode("status"), amountCents: try row.decode("amount_cents"),
            scheduled: try row.decode("scheduled"), createdAt: try row.decode("created_at"))
    }

    private static func advisor(_ caller: Caller) throws -> UUID {
        let advisor = try BillingHandlers.accountId(of: caller)
        guard caller.has(.advisor) else { throw ServiceError(.forbidden, "payouts and tax information are advisors'") }
        return advisor
    }

    /// Creates payout `id` and sets its amount aside; nil when the earnings do not cover it.
    static func create(
        _ id: UUID, advisor: UUID, amount: Int, key: String?, hash: Data?, scheduledFor: String?, on connection: Connection
    ) throws -> Row? {
        guard
            let row = try connection.queryOne(
                """
                INSERT INTO payouts (id, advisor_id, amount_cents, status, idempotency_key, request_hash, scheduled_for)
                VALUES ($1, $2, $3, 'requested', $4, $5, $6::date) ON CONFLICT DO NOTHING RETURNING \(columns)
                """, id, advisor, amount, key, hash, scheduledFor)
        else { return nil }
        let earnings = try Ledger.account("earnings", of: advisor, on: connection)
        let outcome = try Ledger.post(
            "payout:\(id.uuidString.lowercased())", kind: "payout", chatId: nil,
            legs: [.init(account: earnings, amountCents: -amount), .init(account: Ledger.clearing, amountCents: amount)], on: connection)
        guard outcome == .posted else { throw ServiceError(.insufficientFunds, "your available earnings do not cover this payout") }
        return row
    }

    /// The first answer given for `key`; 422 when it was given for another request.
    private static func earlier(advisor: UUID, key: String, hash: Data, on connection: Connection) throws -> Billing.Payout? {
        guard
            let row = try connection.queryOne(
                "SELECT request_hash, answer::text AS answer FROM payouts WHERE advisor_id = $1 AND idempotency_key = $2", advisor, key)
        else { return nil }
        guard ConstantTime.equals(try row.decode("request_hash"), hash) else {
            throw ServiceError(.idempotencyKeyReused, "this Idempotency-Key was used with a different request")
        }
        guard let answer = try row.decode("answer", as: String?.self) else { return nil }
        return try WireCoding.decoder().decode(Billing.Payout.self, from: Data(answer.utf8))
    }

    func request(_ request: Billing.RequestPayout.Request, context: RequestContext) async throws -> Billing.Payout {
        let advisor = try Self.advisor(context.caller)
        guard let key = context.header.idempotencyKey, (1...255).contains(key.utf8.count) else {
            throw ServiceError(.badRequest, "a payout needs an Idempotency-Key header of 1 to 255 characters")
        }
        guard request.amountCents >= settings.payoutMinCents else {
            throw ServiceError(.belowMinimum, "a payout is at least \(settings.payoutMinCents) cents")
        }
        guard request.amountCents <= 10_000_000 else {
            throw ServiceError(.validationFailed, "that is more than any payout", fieldErrors: [FieldError(field: "amountCents", code: "out_of_range")])
        }
        let hash = SHA256.hash(Data("\(request.amountCents)".utf8))
        return try await database.retryingTransaction(.readCommitted) { connection in
            if let earlier = try Self.earlier(advisor: advisor, key: key, hash: hash, on: connection) { return earlier }
            guard try connection.queryOne("SELECT 1 AS found FROM tax_info WHERE advisor_id = $1", advisor) != nil else {
                throw ServiceError(.taxInfoRequired, "give your tax information (PUT /v1/advisors/me/tax-info) before a payout")
            }
            let id = UUID()
            guard let row = try Self.create(id, advisor: advisor, amount: request.amountCents, key: key, hash: hash, scheduledFor: nil, on: connection)
            else {
                // A concurrent request with this key inserted first; its answer, once committed, is the answer.
                guard let earlier = try Self.earlier(advisor: advisor, key: key, hash: hash, on: connection) else {
                    throw ServiceError(.idempotencyKeyInUse, "the first request with this Idempotency-Key is still being answered; try again")
                }
                return earlier
            }
            let payout = try Self.payout(from: row)
            try connection.execute(
                "UPDATE payouts SET answer = $2::jsonb WHERE id = $1", id, String(decoding: try WireCoding.encoder().encode(payout), as: UTF8.self))
            return payout
        }
    }

    func list(_ page: PageRequest, caller: Caller) async throws -> Page<Billing.Payout> {
        let advisor = try Self.advisor(caller)
        let cursor = try PageCursor(page)
        let rows = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT \(Self.columns), seq FROM payouts WHERE advisor_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3
                """, advisor, cursor.before, cursor.limit + 1)
        }
        return try cursor.page(rows, Self.payout(from:))
    }

    /// Hands requested payouts to the processor, a few at a time (each tried again 30 s later
    /// while the processor cannot be told; the same key makes that safe); returns how many it sent.
    func send() async throws -> Int {
        let due = try await database.retryingTransaction(.readCommitted) { connection in
            try connection.query(
                """
                UPDATE payouts SET attempted_at = now() WHERE id IN (
                    SELECT id FROM payouts WHERE status = 'requested' AND advisor_id IS NOT NULL
                      AND (attempted_at IS NULL OR attempted_at < now() - interval '30 seconds')
                    ORDER BY created_at LIMIT 20 FOR UPDATE SKIP LOCKED)
                RETURNING id, advisor_id, amount_cents
                """)
        }
        var sent = 0
        for row in due {
            let id: UUID = try row.decode("id")
            let reference = id.uuidString.lowercased()
            let answer: Payments.Payout.Response
            do {
                answer = try await bus.call(
                    Payments.Payout.self,
                    .init(
                        idempotencyKey: "payout-\(reference)", amountCents: try row.decode("amount_cents"),
                        destination: (try row.decode("advisor_id", as: UUID.self)).uuidString.lowercased(), reference: reference),
                    as: .system)
            } catch {
                logger.warning("payout not handed to the processor yet", metadata: ["payout.id": "\(reference)", "error": "\(error)"])
                continue
            }
            guard answer.accepted else { continue }
            try await database.withConnection { connection in
                try connection.execute(
                    "UPDATE payouts SET status = 'sent', processor_id = $2 WHERE id = $1 AND status = 'requested'", id, answer.payoutId)
            }
            sent += 1
        }
        return sent
    }

    /// The processor's word on a payout: paid, or failed (its amount returns to earnings, once).
    static func decide(_ update: Billing.PaymentUpdate.Request, on connection: Connection, logger: Logger) throws {
        guard let id = update.reference.flatMap(UUID.init(uuidString:)),
            let row = try connection.queryOne("SELECT advisor_id, amount_cents, status FROM payouts WHERE id = $1 FOR UPDATE", id)
        else {
            logger.warning("payout update for no known payout", metadata: ["payout.processorId": "\(update.paymentId)"])
            return
        }
        guard ["requested", "sent"].contains(try row.decode("status", as: String.self)) else { return }
        let paid = update.kind == .payoutPaid
        try connection.execute(
            "UPDATE payouts SET status = $2, processor_id = coalesce(processor_id, $3), decided_at = now() WHERE id = $1", id,
            paid ? "paid" : "failed", update.paymentId)
        guard let advisor = try row.decode("advisor_id", as: UUID?.self) else { return }
        let amount: Int = try row.decode("amount_cents")
        guard !paid else {
            try Outbox.append(Billing.MoneyNotice(accountId: advisor, what: Billing.MoneyNotice.payoutPaid, amountCents: amount, at: Date()), on: connection)
            return
        }
        let earnings = try Ledger.account("earnings", of: advisor, on: connection)
        _ = try Ledger.post(
            "payout-return:\(id.uuidString.lowercased())", kind: "payout-return", chatId: nil,
            legs: [.init(account: Ledger.clearing, amountCents: -amount), .init(account: earnings, amountCents: amount)], on: connection)
    }

    /// The twice-monthly run: on and after the 1st and the 15th, each advisor with tax information
    /// and available earnings of at least the minimum gets one payout of all of them for that period.
    func scheduledRun() async throws -> Int {
        let minimum = settings.payoutMinCents
        return try await database.retryingTransaction(.readCommitted) { connection in
            let due = try connection.query(
                """
                SELECT a.owner_id AS advisor_id, a.balance_cents,
                    (CASE WHEN extract(day FROM now() AT TIME ZONE 'UTC') >= 15
                          THEN date_trunc('month', now() AT TIME ZONE 'UTC') + interval '14 days'
                          ELSE date_trunc('month', now() AT TIME ZONE 'UTC') END)::date::text AS period
                FROM ledger_accounts a JOIN tax_info t ON t.advisor_id = a.owner_id
                WHERE a.kind = 'earnings' AND a.balance_cents >= $1
                ORDER BY a.id LIMIT 200
                """, minimum)
            var made = 0
            for advisor in due {
                let period: String = try advisor.decode("period")
                guard let owner: UUID = try advisor.decode("advisor_id") else { continue }
                if try Self.create(
                    UUID(), advisor: owner, amount: try advisor.decode("balance_cents"), key: nil, hash: nil, scheduledFor: period,
                    on: connection) != nil
                {
                    made += 1
                }
            }
            return made
        }
    }
}

/// Tax information (W-9 or W-8BEN) and the yearly summary a 1099-NEC needs.
struct TaxHandlers: Sendable {
    let database: Database
    let sealing: PaymentSealing

    private struct SealedDetails: Codable {
        var fields: Billing.TaxInfoFields
        var taxId: String
    }

    private static let classifications: Set<String> = [
        "individual", "sole_proprietor", "c_corporation", "s_corporation", "partnership", "trust_estate", "llc",
    ]

    private static func advisor(_ caller: Caller) throws -> UUID {
        let advisor = try BillingHandlers.accountId(of: caller)
        guard caller.has(.advisor) else { throw ServiceError(.forbidden, "tax information is advisors'") }
        return advisor
    }

    func put(_ request: Billing.PutTaxInfo.Request, caller: Caller) async throws -> Billing.TaxInfo {
        let advisor = try Self.advisor(caller)
        let fields = request.fields
        var rules = FieldRules()
        if !["w9", "w8ben"].contains(fields.form) { rules.fail("fields.form", "invalid") }
        for (value, name, range) in [
            (fields.legalName, "fields.legalName", 1...200), (fields.address.line1, "fields.address.line1", 1...200),
            (fields.address.city, "fields.address.city", 1...100), (fields.address.postalCode, "fields.address.postalCode", 1...20),
        ] {
            rules.words(value, field: name, range: range)
        }
        for (value, name, range) in [
            (fields.businessName, "fields.businessName", 1...200), (fields.address.line2, "fields.address.line2", 1...200),
            (fields.address.region, "fields.address.region", 1...100),
        ] {
            if let value { rules.words(value, field: name, range: range) }
        }
        if fields.address.country.wholeMatch(of: /[A-Z]{2}/) == nil { rules.fail("fields.address.country", "invalid") }
        let taxId = request.taxId
        let last4: String
        switch fields.form {
        case "w9":
            // SSN, ITIN or EIN: nine digits, dashes anywhere.
            let digits = taxId.filter { $0 >= "0" && $0 <= "9" }
            if digits.count != 9 || taxId.count > 20 || taxId.contains(where: { !($0 >= "0" && $0 <= "9") && $0 != "-" }) {
                rules.fail("taxId", "invalid")
            }
            if !Self.classifications.contains(fields.taxClassification ?? "") { rules.fail("fields.taxClassification", "invalid") }
            if fields.citizenshipCountry != nil { rules.fail("fields.citizenshipCountry", "not_on_form") }
            last4 = String(digits.suffix(4))
        default:
            // A foreign tax id: 4 to 30 letters, digits and dashes, not only dashes.
            let kept = taxId.filter { $0.isASCII && ($0.isLetter || $0.isNumber) }
            if !(4...30).contains(taxId.count) || kept.isEmpty || taxId.contains(where: { !($0.isASCII && ($0.isLetter || $0.isNumber)) && $0 != "-" }) {
                rules.fail("taxId", "invalid")
            }
            if (fields.citizenshipCountry ?? "").wholeMatch(of: /[A-Z]{2}/) == nil { rules.fail("fields.citizenshipCountry", "invalid") }
            if fields.taxClassification != nil { rules.fail("fields.taxClassification", "not_on_form") }
            last4 = String(kept.suffix(4))
        }
        if !request.certified { rules.fail("certified", "required") }
        try rules.check()
        let details = try WireCoding.encoder().encode(SealedDetails(fields: fields, taxId: request.taxId))
        let sealed = try sealing.sealTaxInfo(details, advisor: advisor)
        let certifiedAt = try await database.withConnection { connection in
            try connection.queryOne(
                """
                INSERT INTO tax_info (advisor_id, form, sealed_details, tax_id_last4) VALUES ($1, $2, $3, $4)
                ON CONFLICT (advisor_id) DO UPDATE SET form = $2, sealed_details = $3, tax_id_last4 = $4, certified_at = now()
                RETURNING certified_at
                """, advisor, fields.form, sealed, last4)?.decode("certified_at", as: Date.self)
        }
        return Billing.TaxInfo(fields: fields, taxIdLast4: last4, certifiedAt: certifiedAt ?? Date())
    }

    func get(caller: Caller) async throws -> Billing.TaxInfo {
        let advisor = try Self.advisor(caller)
        guard let info = try await read(advisor) else { throw ServiceError(.notFound, "no tax information given yet") }
        return info
    }

    private func read(_ advisor: UUID) async throws -> Billing.TaxInfo? {
        let sealing = self.sealing
        return try await database.withConnection { connection in
            guard
                let row = try connection.queryOne(
                    "SELECT sealed_details, tax_id_last4, certified_at FROM tax_info WHERE advisor_id = $1", advisor)
            else { return nil }
            let details = try WireCoding.decoder().decode(
                SealedDetails.self, from: try sealing.openTaxInfo(try row.decode("sealed_details"), advisor: advisor))
            return Billing.TaxInfo(fields: details.fields, taxIdLast4: try row.decode("tax_id_last4"), certifiedAt: try row.decode("certified_at"))
        }
    }

    func summary(_ request: Billing.TaxSummary.Request, caller: Caller) async throws -> Billing.TaxSummary.Response {
        let advisor = try Self.advisor(caller)
        guard (2000...2200).contains(request.year) else {
            throw ServiceError(.validationFailed, "a year from 2000", fieldErrors: [FieldError(field: "year", code: "out_of_range")])
        }
        let figures = try await database.withConnection { connection in
            try connection.queryOne(
                """
                SELECT
                  coalesce((SELECT sum(e.amount_cents) FROM entries e JOIN transfers t ON t.id = e.transfer_id
                            JOIN ledger_accounts a ON a.id = e.account_id
                            WHERE a.kind = 'earnings' AND a.owner_id = $1 AND t.kind IN ('chat-minute', 'free-minute')
                              AND extract(year FROM e.at AT TIME ZONE 'UTC') = $2), 0)::bigint AS gross,
                  coalesce((SELECT sum(amount_cents) FROM payouts WHERE advisor_id = $1 AND status = 'paid'
                              AND extract(year FROM coalesce(decided_at, created_at) AT TIME ZONE 'UTC') = $2), 0)::bigint AS paid
                """, advisor, request.year)
        }
        let gross = try figures?.decode("gross", as: Int.self) ?? 0
        let info = try await read(advisor)
        return .init(
            year: request.year, grossEarningsCents: gross, paidOutCents: try figures?.decode("paid", as: Int.self) ?? 0,
            legalName: info?.fields.legalName, taxIdLast4: info?.taxIdLast4,
            form1099Required: info?.fields.form == "w9" && gross >= 60_000)
    }
}
