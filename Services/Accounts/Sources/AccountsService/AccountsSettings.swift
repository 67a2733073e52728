public import Foundation
public import Security
public import ServiceKit

/// What the accounts service needs beyond the settings every worker service has.
public struct AccountsSettings: Sendable {
    /// Seals each account's data key; from `ACCOUNTS_DATA_KEY` (base64, 32 bytes) and `ACCOUNTS_DATA_KEY_ID`.
    public var keyRing: KeyRing
    /// Hashes and verifies passwords (scrypt).
    public var passwordHasher: PasswordHasher
    /// How long a session token lives.
    public var sessionLifetime: TimeInterval
    /// How many sign-ins, registrations and password re-checks each key may attempt.
    public var attemptLimits: AttemptLimits

    /// Settings from their parts; tests use a cheaper hasher and other limits.
    public init(
        keyRing: KeyRing, passwordHasher: PasswordHasher = PasswordHasher(),
        sessionLifetime: TimeInterval = 30 * 24 * 3600, attemptLimits: AttemptLimits = AttemptLimits()
    ) {
        self.keyRing = keyRing
        self.passwordHasher = passwordHasher
        self.sessionLifetime = sessionLifetime
        self.attemptLimits = attemptLimits
    }

    /// Reads `ACCOUNTS_DATA_KEY` and `ACCOUNTS_DATA_KEY_ID`; nil, with a named problem recorded,
    /// when the key is missing or not 32 bytes of base64.
    public static func read(_ reader: inout ConfigReader) -> AccountsSettings? {
        let encoded = reader.required("ACCOUNTS_DATA_KEY")
        let keyID = reader.string("ACCOUNTS_DATA_KEY_ID", default: "accounts-1")
        guard !encoded.isEmpty else { return nil }
        guard let material = Data(base64Encoded: encoded), material.count == 32,
            let key = try? SealingKey(id: keyID, material: material), let ring = try? KeyRing(current: key)
        else {
            reader.problem("ACCOUNTS_DATA_KEY must be 32 bytes in base64 (and ACCOUNTS_DATA_KEY_ID at most 255 characters)")
            return nil
        }
        return AccountsSettings(keyRing: ring)
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

    /// 10 failed sign-ins per address and email, 50 per email, 300 per address, in 15 minutes;
    /// 20 registrations per address an hour; 10 wrong current passwords per account in 15 minutes.
    public init(
        signInsPerAddressAndEmail: Limit = Limit(10, per: 15 * 60), signInsPerEmail: Limit = Limit(50, per: 15 * 60),
        signInsPerAddress: Limit = Limit(300, per: 15 * 60), registrationsPerAddress: Limit = Limit(20, per: 3600),
        passwordChecksPerAccount: Limit = Limit(10, per: 15 * 60)
    ) {
        self.signInsPerAddressAndEmail = signInsPerAddressAndEmail
        self.signInsPerEmail = signInsPerEmail
        self.signInsPerAddress = signInsPerAddress
        self.registrationsPerAddress = registrationsPerAddress
        self.passwordChecksPerAccount = passwordChecksPerAccount
    }
}
