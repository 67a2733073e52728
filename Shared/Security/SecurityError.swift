/// A failure from the Security module.
///
/// A struct around a private code, in the manner of async-http-client's `HTTPClientError`, so that
/// adding a case later breaks no caller's exhaustive `switch`. Compare with `==` against the
/// static members. Descriptions name the kind of failure only, never the data involved.
public struct SecurityError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: String, Hashable, Sendable {
        case malformed
        case authenticationFailed
        case unknownKey
        case invalidParameters
        case expired
        case invalidSignature
        case cryptoFailure
        case deadlinePassed
        case overloaded
    }

    private let code: Code

    private init(_ code: Code) {
        self.code = code
    }

    /// A short, stable name for the failure, such as `SecurityError.unknownKey`.
    public var description: String { "SecurityError.\(code.rawValue)" }

    /// Input is not in the expected format: truncated, an unknown version, bad encoding.
    public static let malformed = SecurityError(.malformed)
    /// Sealed data failed its authentication check: tampered, wrong key, or wrong associated data.
    public static let authenticationFailed = SecurityError(.authenticationFailed)
    /// Sealed data names a key id the key ring does not hold.
    public static let unknownKey = SecurityError(.unknownKey)
    /// A parameter is outside what this module accepts (key length, scrypt cost, key id size…).
    public static let invalidParameters = SecurityError(.invalidParameters)
    /// A signed token was genuine but its expiry time has passed.
    public static let expired = SecurityError(.expired)
    /// A signed token's MAC does not match its contents.
    public static let invalidSignature = SecurityError(.invalidSignature)
    /// libcrypto reported an internal failure (for example, it could not allocate memory).
    public static let cryptoFailure = SecurityError(.cryptoFailure)
    /// A queued derivation was not computed because its caller's deadline passed while it waited.
    public static let deadlinePassed = SecurityError(.deadlinePassed)
    /// A derivation was refused, not queued: the queue ahead of it would have made it finish after
    /// its caller's deadline.
    public static let overloaded = SecurityError(.overloaded)
}
