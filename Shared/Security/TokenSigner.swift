public import Foundation

/// Issues and checks HMAC-SHA-256-signed tokens that carry a payload and an expiry time.
///
/// A token is three base64url fields (RFC 4648 §5, no padding) joined by dots:
/// `<payload>.<expiry>.<mac>`, where `<expiry>` encodes the expiry as whole seconds since
/// 1970-01-01 UTC in ASCII decimal, and `<mac>` is HMAC-SHA-256 under the signer's key of the
/// ASCII text `<payload>.<expiry>` exactly as it appears in the token. The MAC so covers payload
/// and expiry, and the encodings are canonical: a token has one accepted spelling.
///
/// The payload is signed, not encrypted: anyone holding the token can read it. A token verifies
/// under every signer with the same key, so give each purpose (unsubscribe links, password
/// resets…) its own key, or put the purpose in the payload and check it.
public struct TokenSigner: Sendable, CustomStringConvertible {
    /// The longest token `verify` looks at, in bytes; longer input is refused before any work.
    public static let maximumTokenLength = 8192
    /// The shortest key accepted, in bytes: HMAC-SHA-256's full strength.
    public static let minimumKeyLength = 32

    private let key: Data

    /// Creates a signer with `key`, which must be secret and random (`SecureRandom.bytes(32)`).
    /// - Throws: `SecurityError.invalidParameters` if `key` is shorter than `minimumKeyLength`.
    public init(key: Data) throws {
        guard key.count >= Self.minimumKeyLength else { throw SecurityError.invalidParameters }
        self.key = key
    }

    /// Says what this is, never the key.
    public var description: String { "TokenSigner(HMAC-SHA-256)" }

    /// Returns a token carrying `payload` that verifies until `expiresAt` (to the whole second, rounded down).
    /// - Throws: `SecurityError.invalidParameters` if `expiresAt` is before 1970 or more than 15
    ///   decimal digits of seconds after it, or if the token would
    ///   exceed `maximumTokenLength` (a payload of up to about 6 KB fits).
    public func sign(payload: Data, expiresAt: Date) throws -> String {
        let seconds = expiresAt.timeIntervalSince1970.rounded(.down)
        guard seconds >= 0, seconds < 1e15 else { throw SecurityError.invalidParameters }
        let signed =
            Base64.encode(payload, alphabet: .url) + "."
            + Base64.encode(Data(String(Int64(seconds)).utf8), alphabet: .url)
        let token = signed + "." + Base64.encode(mac(Data(signed.utf8)), alphabet: .url)
        guard token.utf8.count <= Self.maximumTokenLength else { throw SecurityError.invalidParameters }
        return token
    }

    /// Checks `token` and returns its payload.
    ///
    /// The MAC is checked, in constant time, before the expiry is read, so that only a token this
    /// key signed can report `expired`.
    /// - Throws: `SecurityError.malformed` if the token is longer than `maximumTokenLength` or not
    ///   in the format (a MAC of other than 32 bytes included); `SecurityError.invalidSignature` if its MAC does not match;
    ///   `SecurityError.expired` if it is genuine and `now` is at or past its expiry.
    public func verify(_ token: String, now: Date = Date()) throws -> Data {
        guard token.utf8.count <= Self.maximumTokenLength else { throw SecurityError.malformed }
        let fields = token.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 3,
            let payload = Base64.decode(fields[0], alphabet: .url),
            let expiryText = Base64.decode(fields[1], alphabet: .url),
            let presentedMAC = Base64.decode(fields[2], alphabet: .url),
            presentedMAC.count == SHA256.digestLength
        else { throw SecurityError.malformed }

        let signed = token.utf8.prefix(fields[0].utf8.count + 1 + fields[1].utf8.count)
        guard ConstantTime.equals(mac(Data(signed)), presentedMAC) else { throw SecurityError.invalidSignature }

        guard let expiry = Self.seconds(expiryText) else { throw SecurityError.malformed }
        guard now.timeIntervalSince1970 < Double(expiry) else { throw SecurityError.expired }
        return payload
    }

    private func mac(_ signed: Data) -> Data {
        HMAC.sha256(key: key, message: signed)
    }

    /// Reads decimal seconds written by `sign`: digits only, no leading zero, at most 15 of them.
    private static func seconds(_ text: Data) -> Int64? {
        guard (1...15).contains(text.count),
            text.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            text.count == 1 || text.first != UInt8(ascii: "0")
        else { return nil }
        return Int64(String(decoding: text, as: UTF8.self))
    }
}
