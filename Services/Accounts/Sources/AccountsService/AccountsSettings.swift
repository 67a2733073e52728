public import Foundation
public import PlatformSecurity
public import ServiceKit

/// What the accounts service needs beyond the settings every worker service has.
public struct AccountsSettings: Sendable {
    /// Seals each account's data key: the newest master key, and the previous ones that still
    /// open keys sealed before a rotation (`ACCOUNTS_DATA_KEY`).
    public var keyRing: KeyRing
    /// The key of the email blind index (`ACCOUNTS_EMAIL_INDEX_KEY`): an email is found and kept
    /// unique by an HMAC of its normalized form, never by the address itself.
    public var emailIndexKey: Data
    /// Hashes and verifies passwords (scrypt).
    public var passwordHasher: PasswordHasher
    /// How long a session token lives.
    public var sessionLifetime: TimeInterval
    /// How many sign-ins, registrations and password re-checks each key may attempt.
    public var attemptLimits: AttemptLimits

    /// The key of the attempt counters' digests: derived from the email index key, so that one
    /// secret is kept, with a label of its own so that no counter digest is an email index.
    var attemptKey: Data { HMAC.sha256(key: emailIndexKey, message: Data("accounts.attempt-counters".utf8)) }

    /// The audit chain, keyed under a key derived from the email index key the same way (the
    /// database never holds it, and it never changes, so every entry stays verifiable).
    var audit: AuditLog { AuditLog(key: HMAC.sha256(key: emailIndexKey, message: Data("accounts.audit-chain".utf8))) }

    /// Settings from their parts; tests use a cheaper hasher and other limits.
    public init(
        keyRing: KeyRing, emailIndexKey: Data, passwordHasher: PasswordHasher = PasswordHasher(),
        sessionLifetime: TimeInterval = 30 * 24 * 3600, attemptLimits: AttemptLimits = AttemptLimits()
    ) {
        self.keyRing = keyRing
        self.emailIndexKey = emailIndexKey
        self.passwordHasher = passwordHasher
        self.sessionLifetime = sessionLifetime
        self.attemptLimits = attemptLimits
    }

    /// Reads `ACCOUNTS_DATA_KEY` (the master keys, newest first, comma-separated, each
    /// `<id>:<base64 of 32 bytes>`, or one bare base64 key named by `ACCOUNTS_DATA_KEY_ID`) and
    /// `ACCOUNTS_EMAIL_INDEX_KEY` (base64 of 32 bytes); nil, with the problems named, otherwise.
    public static func read(_ reader: inout ConfigReader) -> AccountsSettings? {
        let encoded = reader.required("ACCOUNTS_DATA_KEY")
        let defaultID = reader.string("ACCOUNTS_DATA_KEY_ID", default: "accounts-1")
        let indexEncoded = reader.required("ACCOUNTS_EMAIL_INDEX_KEY")
        guard !encoded.isEmpty, !indexEncoded.isEmpty else { return nil }
        var keys: [SealingKey] = []
        for entry in ConfigReader.items(of: encoded) {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            let (id, text) = parts.count == 2 ? (parts[0], parts[1]) : (defaultID, entry)
            guard let material = Data(base64Encoded: text), material.count == 32,
                let key = try? SealingKey(id: id, material: material)
            else {
                reader.problem(
                    "ACCOUNTS_DATA_KEY must list master keys as <id>:<base64 of 32 bytes>, newest first (ids at most 255 characters)")
                return nil
            }
            keys.append(key)
        }
        guard let current = keys.first, let ring = try? KeyRing(current: current, previous: Array(keys.dropFirst())) else {
            reader.problem("ACCOUNTS_DATA_KEY names two master keys with one id")
            return nil
        }
        guard let indexKey = Data(base64Encoded: indexEncoded), indexKey.count == 32 else {
            reader.problem("ACCOUNTS_EMAIL_INDEX_KEY must be 32 bytes in base64")
            return nil
        }
        return AccountsSettings(keyRing: ring, emailIndexKey: indexKey)
    }
}

/// How many costly attempts each key may make per window before it is refused with `rate_limited`.
public struct AttemptLimits: Sendable {
    /// At most `count` attempts in `window` seconds.
    public struct Limit: Sendable {
        public var count: Int
        public var window: TimeInterval
        public init(_ count: Int, per window: TimeInterval) {
            self.count = count
            self.window = window
        }
    }

    /// Sign-ins from one address (an IPv6 /64) for one email: only whoever is at that address
    /// can use this up.
    public var signInsPerAddressAndEmail: Limit
    /// Sign-ins for one email from anywhere: guessing one password from many addresses.
    public var signInsPerEmail: Limit
    /// Sign-ins from one address for any email: password spraying.
    public var signInsPerAddress: Limit
    /// Registrations from one address (each costs a password hash).
    public var registrationsPerAddress: Limit
    /// Wrong current passwords for one account (profile changes, erasure requests).
    public var passwordChecksPerAccount: Limit
    /// Phone verification codes texted, per account and per number.
    public var phoneCodes: Limit

    /// 10 failed sign-ins per address and email, 50 per email, 300 per address, in 15 minutes;
    /// 20 registrations per address an hour; 10 wrong current passwords per account in 15 minutes;
    /// 5 phone codes per account and per number an hour.
    public init(
        signInsPerAddressAndEmail: Limit = Limit(10, per: 15 * 60), signInsPerEmail: Limit = Limit(50, per: 15 * 60),
        signInsPerAddress: Limit = Limit(300, per: 15 * 60), registrationsPerAddress: Limit = Limit(20, per: 3600),
        passwordChecksPerAccount: Limit = Limit(10, per: 15 * 60), phoneCodes: Limit = Limit(5, per: 3600)
    ) {
        self.phoneCodes = phoneCodes
        self.signInsPerAddressAndEmail = signInsPerAddressAndEmail
        self.signInsPerEmail = signInsPerEmail
        self.signInsPerAddress = signInsPerAddress
        self.registrationsPerAddress = registrationsPerAddress
        self.passwordChecksPerAccount = passwordChecksPerAccount
    }
}
