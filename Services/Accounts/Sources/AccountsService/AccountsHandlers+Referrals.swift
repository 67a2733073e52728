import Foundation
import Logging
import Models
import Bus
import PlatformSecurity
import ServiceKit
import Store

/// Partners' referral codes and the counts they earn: an account registered with a code is
/// counted for that code's day; reports show counts per code and day, a small group suppressed,
/// and never anyone's identity.
extension AccountsHandlers {
    /// Makes a code once per `Idempotency-Key`: the key is taken in the transaction that makes the
    /// code, so a repeat (even one arriving at once) answers the first code, and the same key with
    /// another body is 422 `idempotency_key_reused`.
    func createReferralCode(_ request: Accounts.CreateReferralCode.Request, context: RequestContext) async throws -> Accounts.ReferralCode {
        guard context.caller.has(.system) else { throw AccountsErrors.forbidden }
        guard let key = context.header.idempotencyKey, (1...255).contains(key.utf8.count) else {
            throw ServiceError(.badRequest, "making a referral code needs an Idempotency-Key header of 1 to 255 characters")
        }
        var rules = FieldRules()
        if let code = request.code, code.wholeMatch(of: /[A-Za-z0-9_-]{4,40}/) == nil { rules.fail("code", "invalid") }
        try rules.check()
        let code = request.code ?? String(Self.base62(SecureRandom.bytes(8)).prefix(10))
        let requestHash = SHA256.hash(Data((request.code ?? "").utf8))
        return try await database.transaction { connection in
            guard try connection.queryOne("SELECT 1 FROM partners WHERE id = $1", request.partnerId) != nil else {
                throw ServiceError(.notFound, "no partner with this id is registered")
            }
            // The key is taken first: a request with it arriving at once waits here for this one's
            // commit, then finds its answer below. A key older than a day is free again.
            let taken = try connection.queryOne(
                """
                INSERT INTO referral_code_requests (partner_id, idempotency_key, request_hash, code) VALUES ($1, $2, $3, $4)
                ON CONFLICT (partner_id, idempotency_key) DO UPDATE SET request_hash = EXCLUDED.request_hash, code = EXCLUDED.code,
                    created_at = now()
                WHERE referral_code_requests.created_at <= now() - interval '1 day'
                RETURNING code
                """, request.partnerId, key, requestHash, code)
            guard taken != nil else {
                guard
                    let earlier = try connection.queryOne(
                        """
                        SELECT r.request_hash, c.code, c.created_at FROM referral_code_requests r JOIN referral_codes c ON c.code = r.code
                        WHERE r.partner_id = $1 AND r.idempotency_key = $2
                        """, request.partnerId, key)
                else { throw ServiceError(.internalError, "the first request with this key left no code") }
                guard try earlier.decode("request_hash", as: Data.self) == requestHash else {
                    throw ServiceError(.idempotencyKeyReused, "this Idempotency-Key was used with a different request")
                }
                return Accounts.ReferralCode(code: try earlier.decode("code"), createdAt: try earlier.decode("created_at"))
            }
            guard
                let row = try connection.queryOne(
                    """
                    INSERT INTO referral_codes (code, partner_id) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING RETURNING code, created_at
                    """, code, request.partnerId)
            else { throw ServiceError(.conflict, "this referral code is taken") }
            return Accounts.ReferralCode(code: try row.decode("code"), createdAt: try row.decode("created_at"))
        }
    }

    func referralCodes(_ request: Accounts.ListReferralCodes.Request, caller: Caller) async throws -> Accounts.ListReferralCodes.Response {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        return try await database.withConnection { connection in
            .init(
                items: try connection.query(
                    "SELECT code, created_at FROM referral_codes WHERE partner_id = $1 ORDER BY created_at DESC, code LIMIT 500", request.partnerId
                ).map { Accounts.ReferralCode(code: try $0.decode("code"), createdAt: try $0.decode("created_at")) })
        }
    }

    func referralReport(_ request: Accounts.ReferralReport.Request, caller: Caller) async throws -> Accounts.ReferralReport.Response {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        let from = Self.day(request.from)
        let to = Self.day(request.to)
        if from == nil { rules.fail("from", "invalid") }
        if to == nil { rules.fail("to", "invalid") }
        if let from, let to, to < from || to.timeIntervalSince(from) > Double(Accounts.ReferralReport.maxDays - 1) * 86_400 {
            rules.fail("to", "out_of_range")
        }
        if !(1...1000).contains(request.minGroupSize) { rules.fail("minGroupSize", "invalid") }
        if !(0...100).contains(request.revenueSharePercent) { rules.fail("revenueSharePercent", "invalid") }
        try rules.check()
        let rows = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT s.code, s.day::text AS day, s.signups, s.first_chats, s.payers, s.charged_cents
                FROM referral_signups s JOIN referral_codes c ON c.code = s.code
                WHERE c.partner_id = $1 AND s.day BETWEEN $2::date AND $3::date ORDER BY s.day, s.code LIMIT 10000
                """, request.partnerId, request.from, request.to)
        }
        let minimum = request.minGroupSize
        return .init(
            minGroupSize: minimum, revenueSharePercent: request.revenueSharePercent,
            // A row whose every figure is suppressed or zero is left out: its date alone would tell
            // a partner holding a code for one person when that person signed up, chatted or paid.
            items: try rows.compactMap { row -> Accounts.ReferralReport.Row? in
                // None is no one; one to minimum - 1 people could be singled out.
                func shown(_ count: Int) -> Int? { count == 0 || count >= minimum ? count : nil }
                let signups: Int = try row.decode("signups")
                let firstChats: Int = try row.decode("first_chats")
                let payers: Int = try row.decode("payers")
                let charged = Int(try row.decode("charged_cents", as: Int64.self))
                let paid = shown(payers) != nil
                guard [signups, firstChats, payers].contains(where: { $0 > 0 && shown($0) != nil }) else { return nil }
                return .init(
                    code: try row.decode("code"), day: try row.decode("day"), signups: shown(signups), firstChats: shown(firstChats),
                    payers: shown(payers), chargedCents: paid ? charged : nil,
                    shareCents: paid ? charged * request.revenueSharePercent / 100 : nil,
                    suppressed: shown(signups) == nil || shown(firstChats) == nil || !paid)
            })
    }

    /// What referred members do after signing up, counted for their code and day: the first chat
    /// that begins (`chat.accepted`), and each day they pay for a chat (`billing.chat-settled`,
    /// what billing's ledger charged). Whether an account's first chat and a day's payment were
    /// counted is kept in its sealed fields, beside its code, so no table links code and account.
    static func referralActivity(records: AccountRecords) -> [EventSubscription] {
        [
            EventSubscription(producer: .chat).on(Chat.Accepted.self) { event, _, connection in
                guard let personal = try records.personal(event.memberId, on: connection), personal.referralFirstChat != true,
                    let code = try referralCode(personal.source, on: connection)
                else { return }
                try connection.execute(
                    """
                    INSERT INTO referral_signups (code, day, first_chats) VALUES ($1, ($2::timestamptz AT TIME ZONE 'UTC')::date, 1)
                    ON CONFLICT (code, day) DO UPDATE SET first_chats = referral_signups.first_chats + 1
                    """, code, event.at)
                try records.updatePersonal(event.memberId, on: connection) { $0.referralFirstChat = true }
            },
            EventSubscription(producer: .billing).on(Billing.ChatSettled.self) { event, _, connection in
                guard event.chargedCents > 0, let personal = try records.personal(event.memberId, on: connection),
                    let code = try referralCode(personal.source, on: connection)
                else { return }
                let day = ISO8601DateFormatter.string(from: event.endedAt, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
                let newPayer = personal.referralPaidDay != day
                try connection.execute(
                    """
                    INSERT INTO referral_signups (code, day, payers, charged_cents) VALUES ($1, $2::date, $3, $4)
                    ON CONFLICT (code, day) DO UPDATE SET payers = referral_signups.payers + EXCLUDED.payers,
                        charged_cents = referral_signups.charged_cents + EXCLUDED.charged_cents
                    """, code, day, newPayer ? 1 : 0, event.chargedCents)
                if newPayer { try records.updatePersonal(event.memberId, on: connection) { $0.referralPaidDay = day } }
            },
        ]
    }

    /// `source` when it is a partner's referral code.
    private static func referralCode(_ source: String?, on connection: Connection) throws -> String? {
        guard let source, source.wholeMatch(of: /[A-Za-z0-9_-]{4,40}/) != nil,
            try connection.queryOne("SELECT 1 FROM referral_codes WHERE code = $1", source) != nil
        else { return nil }
        return source
    }

    /// Counts a registration with `code` for its day, if it is a partner's referral code.
    static func countReferral(_ code: String?, on connection: Connection) throws {
        guard let code, code.wholeMatch(of: /[A-Za-z0-9_-]{4,40}/) != nil else { return }
        try connection.execute(
            """
            INSERT INTO referral_signups (code, day, signups)
            SELECT code, (now() AT TIME ZONE 'UTC')::date, 1 FROM referral_codes WHERE code = $1
            ON CONFLICT (code, day) DO UPDATE SET signups = referral_signups.signups + 1
            """, code)
    }

    /// A `YYYY-MM-DD` UTC day, or nil.
    static func day(_ text: String) -> Date? {
        guard text.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.date(from: text)
    }
}
