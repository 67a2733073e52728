public import Foundation

/// An AES-256-GCM key with the id that sealed data records, so the right key can be found to open it.
///
/// `description` shows the id only; the key material never reaches a log through interpolation.
public struct SealingKey: Sendable, CustomStringConvertible {
    /// The longest key id accepted, in UTF-8 bytes (the sealed format stores its length in one byte).
    public static let maximumIDLength = 255

    /// The key's name, stored in clear in everything sealed with it: say which key, never what it protects.
    public let id: String
    /// The 32 bytes of key material. Secret: store it sealed under another key, never log it.
    public let material: Data

    /// Wraps existing key material, for example one loaded from storage.
    /// - Throws: `SecurityError.invalidParameters` if `material` is not 32 bytes or `id` is empty
    ///   or longer than `maximumIDLength` UTF-8 bytes.
    public init(id: String, material: Data) throws {
        guard (1...Self.maximumIDLength).contains(id.utf8.count), material.count == AESGCM.keyLength else {
            throw SecurityError.invalidParameters
        }
        self.id = id
        self.material = material
    }

    /// Creates a key of fresh random material.
    /// - Throws: `SecurityError.invalidParameters` if `id` is empty or longer than `maximumIDLength` UTF-8 bytes.
    public static func generate(id: String) throws -> SealingKey {
        try SealingKey(id: id, material: SecureRandom.bytes(AESGCM.keyLength))
    }

    /// The key id only.
    public var description: String { "SealingKey(id: \(id))" }
}
