import Bus
import Foundation
import Logging
import Models
import PlatformSecurity
import ServiceKit
import Store

/// A phone number is the person's only once they prove they hold it: a six-digit code is texted
/// to a number they give (`PATCH /v1/me`), and they send it back (`POST /v1/me/phone/verification`)
/// within ten minutes and five tries. Codes are limited per account and per number, an hour at a
/// time, so the platform cannot be used to text strangers. A number that texted STOP is never
/// sent a code, and drops out of every account's contacts, until it texts START.
extension AccountsHandlers {
    static let codeLifetime: TimeInterval = 600
    static let codeTries = 5

    /// A normalized E.164 number from what a person typed (spaces, dots, dashes and brackets
    /// dropped), or nil.
    static func normalize(phone: String) -> String? {
        let kept = String(phone.unicodeScalars.filter { !" .-()\u{A0}".unicodeScalars.contains($0) })
        return SMS.isE164(kept) ? kept : nil
    }

    /// The keyed hash of a code, bound to the account and the number it was texted to.
    func codeHash(account: UUID, phone: String, code: String) -> Data {
        HMAC.sha256(key: HMAC.sha256(key: settings.attemptKey, message: Data("phone-code".utf8)), message: Data("\(account)|\(phone)|\(code)".utf8))
    }

    /// Texts a fresh code to `phone` for `account`; returns what to write with the profile change.
    /// `sms_refused` for a number that texted STOP or that the provider cannot reach.
    func textCode(to phone: String, for account: UUID) async throws -> (sealedPhone: Data, codeHash: Data) {
        let records = self.records
        let stopped = try await database.withConnection { connection in
            try AttemptThrottle.count(AttemptThrottle.phoneCodeKeys(account: account, phone: phone, settings: self.settings), on: connection)
            return try connection.queryOne("SELECT 1 FROM sms_stops WHERE phone_index = $1", records.phoneIndex(phone)) != nil
        }
        if stopped {
            throw ServiceError(.smsRefused, "this number asked us to stop texting it; text START to us from it first")
        }
        guard let bus else { throw ServiceError(.unavailable, "texts cannot be sent from here") }
        let code = String(format: "%06d", Int(SecureRandom.bytes(4).reduce(0) { $0 << 8 | UInt32($1) } % 1_000_000))
        _ = try await bus.call(
            SMS.Send.self,
            .init(to: phone, body: "Advisor Platform: your code is \(code). It expires in 10 minutes. Never share it."),
            as: .system)
        let sealed = try await database.withConnection { try records.sealPhone(phone, for: account, on: $0) }
        return (sealed, codeHash(account: account, phone: phone, code: code))
    }

    func verifyPhone(_ request: Accounts.VerifyPhone.Request, caller: Caller) async throws -> Accounts.Account {
        let id = try Self.accountId(of: caller)
        let code = request.code.trimmingCharacters(in: .whitespaces)
        let records = self.records
        enum Outcome {
            case verified(Accounts.Account)
            case refused(ServiceError)
        }
        let outcome = try await database.transaction { connection -> Outcome in
            guard
                let row = try connection.queryOne(
                    """
                    SELECT phone_pending_sealed, phone_code_hash, phone_code_attempts,
                        phone_code_expires_at < now() AS expired
                    FROM accounts WHERE id = $1 AND erased_at IS NULL FOR UPDATE
                    """, id),
                let found = try records.load(id, on: connection), let phone = found.account.pendingPhone,
                let stored = try row.decode("phone_code_hash", as: Data?.self)
            else { return .refused(ServiceError(.noPendingPhone, "no number is waiting for a code; give one with PATCH /v1/me")) }
            if try row.decode("expired", as: Bool?.self) ?? true || (try row.decode("phone_code_attempts", as: Int.self)) >= Self.codeTries {
                return .refused(ServiceError(.codeExpired, "this code has expired; give the number again for a new one"))
            }
            guard code.count == 6, ConstantTime.equals(codeHash(account: id, phone: phone, code: code), stored) else {
                // Counted in a transaction that commits: the refusal is returned, not thrown.
                try connection.execute("UPDATE accounts SET phone_code_attempts = phone_code_attempts + 1 WHERE id = $1", id)
                return .refused(ServiceError(.invalidCode, "that is not the code we texted"))
            }
            try connection.execute(
                """
                UPDATE accounts SET phone_sealed = phone_pending_sealed, phone_index = $2, phone_pending_sealed = NULL,
                    phone_code_hash = NULL, phone_code_expires_at = NULL, phone_code_attempts = 0
                WHERE id = $1
                """, id, records.phoneIndex(phone))
            try audit.append(
                .init(actorId: id, actorRoles: found.account.roles, action: "account.phone-verified", subjectId: id), on: connection)
            guard let loaded = try records.load(id, on: connection) else { throw AccountsErrors.notFound }
            return .verified(loaded.account)
        }
        switch outcome {
        case .verified(let account):
            logger.info("phone verified", metadata: ["account.id": "\(id)"])
            return account
        case .refused(let error):
            throw error
        }
    }

    /// STOP or START from a number; see `Accounts.SMSOptOut`.
    func smsOptOut(_ request: Accounts.SMSOptOut.Request, caller: Caller) async throws -> Accounts.SMSOptOut.Response {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        guard SMS.isE164(request.phone) else {
            throw ServiceError(.validationFailed, "the number is not E.164", fieldErrors: [.init(field: "phone", code: "invalid")])
        }
        let index = records.phoneIndex(request.phone)
        let audit = self.audit
        let count = try await database.transaction { connection -> Int in
            let holders = try connection.query(
                "SELECT id FROM accounts WHERE phone_index = $1 AND erased_at IS NULL ORDER BY id", index
            ).map { try $0.decode("id", as: UUID.self) }
            guard request.optOut else {
                try connection.execute("DELETE FROM sms_stops WHERE phone_index = $1", index)
                return holders.count
            }
            try connection.execute("INSERT INTO sms_stops (phone_index) VALUES ($1) ON CONFLICT DO NOTHING", index)
            let version = try PolicyRecords.current(on: connection).version
            for holder in holders {
                try ConsentRecords.record(
                    [("marketingSms", false)], accountId: holder, source: .smsStop, policyVersion: version, actorRoles: [],
                    audit: audit, on: connection)
            }
            return holders.count
        }
        logger.info("sms keyword applied", metadata: ["sms.opt-out": "\(request.optOut)", "sms.accounts": "\(count)"])
        return .init(accounts: count)
    }
}
