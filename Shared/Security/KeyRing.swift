public import Foundation

/// Seals data with AES-256-GCM under a current key, and opens data sealed under any key it holds.
///
/// Rotating keys: make a ring whose current key is the new one and whose other keys include the
/// old ones (`rotated(to:)`). New data is sealed under the new key; old data still opens, and
/// `keyID(of:)` tells which items to re-seal before an old key is retired.
///
/// Sealed format, version 1:
///
/// | bytes | content |
/// |---|---|
/// | 1 | version, `0x01` |
/// | 1 | key id length `L`, 1...255 |
/// | `L` | key id, UTF-8 |
/// | 12 | random nonce |
/// | n | ciphertext, as long as the plaintext |
/// | 16 | GCM tag |
///
/// The tag authenticates the version byte, the key id and the caller's associated data, in that
/// order, as well as the ciphertext: changing any of them makes `open` fail. Pass as associated
/// data what the plaintext belongs to (an account id and field name, say), so that a sealed value
/// copied onto another record does not open there.
///
/// Random 12-byte nonces stay safe for about 2^32 seals under one key; rotate well before that.
public struct KeyRing: Sendable, CustomStringConvertible {
    private static let version: UInt8 = 1

    /// The key new data is sealed under.
    public let current: SealingKey
    private let keys: [String: SealingKey]

    /// Creates a ring sealing under `current` and also opening data sealed under `previous`.
    /// - Throws: `SecurityError.invalidParameters` if two keys share an id.
    public init(current: SealingKey, previous: [SealingKey] = []) throws {
        var keys = [current.id: current]
        for key in previous {
            guard keys.updateValue(key, forKey: key.id) == nil else { throw SecurityError.invalidParameters }
        }
        self.current = current
        self.keys = keys
    }

    /// The ids of every key the ring holds, sorted.
    public var keyIDs: [String] { keys.keys.sorted() }

    /// The key ids only, never the material.
    public var description: String { "KeyRing(current: \(current.id), keys: \(keyIDs))" }

    /// A ring that seals under `key` and still opens everything this ring opens.
    /// - Throws: `SecurityError.invalidParameters` if the ring already holds a key with that id.
    public func rotated(to key: SealingKey) throws -> KeyRing {
        try KeyRing(current: key, previous: Array(keys.values))
    }

    /// Seals `plaintext` under the current key with a fresh random nonce.
    /// - Throws: `SecurityError.invalidParameters` if an input exceeds 2 GiB;
    ///   `SecurityError.cryptoFailure` if libcrypto fails.
    public func seal(_ plaintext: Data, associatedData: Data = Data()) throws -> Data {
        let header = Self.header(keyID: current.id)
        let nonce = SecureRandom.bytes(AESGCM.nonceLength)
        let (ciphertext, tag) = try AESGCM.seal(
            key: current.material, nonce: nonce, plaintext: plaintext, aad: header + associatedData)
        return header + nonce + ciphertext + tag
    }

    /// Opens data sealed by `seal`, under whichever held key its id names.
    /// - Throws: `SecurityError.malformed` if `sealed` is truncated or of an unknown version;
    ///   `SecurityError.unknownKey` if the ring has no key with its id;
    ///   `SecurityError.authenticationFailed` if it was tampered with, or `associatedData` differs
    ///   from what it was sealed with.
    public func open(_ sealed: Data, associatedData: Data = Data()) throws -> Data {
        let parts = try Self.parse(sealed)
        guard let key = keys[parts.keyID] else { throw SecurityError.unknownKey }
        return try AESGCM.open(
            key: key.material, nonce: parts.nonce, ciphertext: parts.ciphertext, tag: parts.tag,
            aad: parts.header + associatedData)
    }

    /// The id of the key `sealed` was sealed under, read without opening it.
    /// - Throws: `SecurityError.malformed` if `sealed` is truncated or of an unknown version.
    public static func keyID(of sealed: Data) throws -> String {
        try parse(sealed).keyID
    }

    // MARK: The format

    private static func header(keyID: String) -> Data {
        let id = Data(keyID.utf8)
        return Data([version, UInt8(id.count)]) + id
    }

    private struct Parts {
        let header: Data
        let keyID: String
        let nonce: Data
        let ciphertext: Data
        let tag: Data
    }

    private static func parse(_ sealed: Data) throws -> Parts {
        let bytes = [UInt8](sealed)
        guard bytes.count >= 2, bytes[0] == version else { throw SecurityError.malformed }
        let idLength = Int(bytes[1])
        let headerLength = 2 + idLength
        let tagStart = bytes.count - AESGCM.tagLength
        guard idLength > 0, tagStart >= headerLength + AESGCM.nonceLength,
            let keyID = String(validating: bytes[2..<headerLength], as: UTF8.self)
        else { throw SecurityError.malformed }
        let nonceEnd = headerLength + AESGCM.nonceLength
        return Parts(
            header: Data(bytes[..<headerLength]),
            keyID: keyID,
            nonce: Data(bytes[headerLength..<nonceEnd]),
            ciphertext: Data(bytes[nonceEnd..<tagStart]),
            tag: Data(bytes[tagStart...]))
    }
}
