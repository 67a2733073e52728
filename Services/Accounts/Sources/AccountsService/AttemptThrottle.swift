import Foundation
import Models
import PlatformSecurity
import ServiceKit
import Store

/// Counts costly attempts (sign-ins, registrations, password re-checks) per key over a window,
/// and refuses at once, with the time until the window ends, beyond a key's limit.
///
/// An attempt is counted before its password is checked, by one upsert over all its keys whose
/// row locks serialize concurrent attempts on a key: a burst of simultaneous guesses is counted
/// exactly, none slips past the limit while others are still being checked. An attempt that
/// succeeds gives its count back. Keys are stored as HMAC-SHA256 digests under a key of the
/// service's (`AccountsSettings.attemptKey`), so the table holds no email or address, not even
/// one a dictionary could recover from a copy of it; `AccountsRetention` deletes rows a minute or
/// two after their window ends.
enum AttemptThrottle {
    /// One thing attempts are counted by, with its limit.
    struct Key {
        let digest: Data
        let limit: AttemptLimits.Limit

        /// `kind` separates the families of keys (a pair, an email, an address…).
        init(_ kind: String, _ parts: String..., limit: AttemptLimits.Limit, secret: Data) {
            digest = HMAC.sha256(key: secret, message: Data(([kind] + parts).joined(separator: "\u{1F}").utf8))
            self.limit = limit
        }
    }

    /// The keys of a sign-in: its address and email together (the tight limit, which only the
    /// person at that address can exhaust), the email from anywhere (a looser one against guessing
    /// from many addresses), and the address for any email (a ceiling against spraying).
    static func signInKeys(email: String, address: String, settings: AccountsSettings) -> [Key] {
        let network = IPAddress.rateLimitKey(address)
        let (limits, secret) = (settings.attemptLimits, settings.attemptKey)
        return [
            Key("sign-in.pair", network, email, limit: limits.signInsPerAddressAndEmail, secret: secret),
            Key("sign-in.email", email, limit: limits.signInsPerEmail, secret: secret),
            Key("sign-in.address", network, limit: limits.signInsPerAddress, secret: secret),
        ]
    }

    /// The key of a registration: its address (an IPv6 /64), at most 100 characters of what was sent.
    static func registrationKeys(address: String, settings: AccountsSettings) -> [Key] {
        [
            Key(
                "register.address", IPAddress.rateLimitKey(String(address.prefix(100))),
                limit: settings.attemptLimits.registrationsPerAddress, secret: settings.attemptKey)
        ]
    }

    /// The key of a re-check of an account's current password.
    static func passwordCheckKeys(account: UUID, settings: AccountsSettings) -> [Key] {
        [
            Key(
                "password-check", account.uuidString, limit: settings.attemptLimits.passwordChecksPerAccount,
                secret: settings.attemptKey)
        ]
    }

    /// The keys of a verification code texted: the account asking, and the number it goes to
    /// (so no number can be flooded from many accounts).
    static func phoneCodeKeys(account: UUID, phone: String, settings: AccountsSettings) -> [Key] {
        let (limit, secret) = (settings.attemptLimits.phoneCodes, settings.attemptKey)
        return [Key("phone-code.account", account.uuidString, limit: limit, secret: secret), Key("phone-code.number", phone, limit: limit, secret: secret)]
    }

    /// Counts one attempt against every key; throws `rate_limited` when any key is over its limit.
    static func count(_ keys: [Key], on connection: Connection) throws {
        // One order for every statement, so two attempts sharing keys cannot deadlock.
        let keys = keys.sorted { $0.digest.lexicographicallyPrecedes($1.digest) }
        var placeholders: [String] = []
        var parameters: [any SQLEncodable] = []
        for (index, key) in keys.enumerated() {
            placeholders.append("($\(2 * index + 1)::bytea, 1, now() + $\(2 * index + 2)::float8 * interval '1 second')")
            parameters += [key.digest, key.limit.window]
        }
        let rows = try connection.query(
            """
            INSERT INTO attempt_counters AS c (key, count, window_ends) VALUES \(placeholders.joined(separator: ", "))
            ON CONFLICT (key) DO UPDATE SET
                count = CASE WHEN c.window_ends <= now() THEN 1 ELSE c.count + 1 END,
                window_ends = CASE WHEN c.window_ends <= now() THEN excluded.window_ends ELSE c.window_ends END
            RETURNING key, count, extract(epoch FROM c.window_ends - now())::float8 AS remaining
            """, parameters: parameters)
        var retryAfter = 0
        for row in rows {
            let digest = try row.decode("key", as: Data.self)
            guard let key = keys.first(where: { $0.digest == digest }) else { continue }
            if try row.decode("count", as: Int.self) > key.limit.count {
                retryAfter = max(retryAfter, Int(try row.decode("remaining", as: Double.self).rounded(.up)))
            }
        }
        if retryAfter > 0 { throw AccountsErrors.rateLimited(retryAfter: max(1, retryAfter)) }
    }

    /// Gives back the count of an attempt that succeeded.
    static func giveBack(_ keys: [Key], on connection: Connection) throws {
        for key in keys.sorted(by: { $0.digest.lexicographicallyPrecedes($1.digest) }) {
            try connection.execute(
                "UPDATE attempt_counters SET count = count - 1 WHERE key = $1 AND count > 0 AND window_ends > now()",
                key.digest)
        }
    }
}
