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
    /// When repeated sign-in failures slow down and then stop being answered.
    public var signInLimits: SignInLimits

    /// Settings from their parts; tests use a cheaper hasher and shorter delays.
    public init(
        keyRing: KeyRing, passwordHasher: PasswordHasher = PasswordHasher(),
        sessionLifetime: TimeInterval = 30 * 24 * 3600, signInLimits: SignInLimits = SignInLimits()
    ) {
        self.keyRing = keyRing
        self.passwordHasher = passwordHasher
        self.sessionLifetime = sessionLifetime
        self.signInLimits = signInLimits
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

/// Sign-in throttling, per email and per IP address, over a sliding window.
public struct SignInLimits: Sendable {
    /// The window failures are counted in.
    public var window: TimeInterval
    /// Failures in the window after which each attempt waits longer.
    public var slowDownAfter: Int
    /// Failures in the window after which attempts are refused with `rate_limited`.
    public var refuseAfter: Int
    /// The first added delay; it doubles with every further failure, up to `maximumDelay`.
    public var baseDelay: Duration
    /// The longest added delay.
    public var maximumDelay: Duration

    /// 5 failures in 15 minutes slow down, 10 refuse.
    public init(
        window: TimeInterval = 15 * 60, slowDownAfter: Int = 5, refuseAfter: Int = 10,
        baseDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(4)
    ) {
        self.window = window
        self.slowDownAfter = slowDownAfter
        self.refuseAfter = refuseAfter
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }
}
