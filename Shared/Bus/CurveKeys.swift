import CZeroMQ
import Foundation

/// A CURVE key pair as Z85 text (40 characters each), the form libzmq and operators use.
///
/// Its `description` never shows the secret key, so logging a configuration cannot leak it.
public struct CurveKeyPair: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The public key, safe to share (it goes into brokers' allow-lists).
    public let publicKey: String
    /// The secret key; keep it out of logs and repositories.
    public let secretKey: String

    /// A key pair from configuration; throws `BusError.invalidKey` unless both are valid Z85 keys
    /// and the public key is the one derived from the secret key.
    public init(publicKey: String, secretKey: String) throws {
        try Z85.validateKey(publicKey, role: "public key")
        try Z85.validateKey(secretKey, role: "secret key")
        var derived = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&derived, secretKey) == 0,
            String(zeroTerminated: derived) == publicKey
        else {
            throw BusError(.invalidKey, detail: "the public key does not belong to the secret key")
        }
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    private init(unchecked publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh random key pair (libzmq's `zmq_curve_keypair`, backed by libsodium).
    public static func generate() -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        let rc = zmq_curve_keypair(&publicKey, &secretKey)
        precondition(rc == 0, "zmq_curve_keypair failed: this libzmq was built without CURVE")
        return CurveKeyPair(unchecked: String(zeroTerminated: publicKey), secretKey: String(zeroTerminated: secretKey))
    }

    /// Shows the public key only.
    public var description: String { "CurveKeyPair(publicKey: \(publicKey), secretKey: <redacted>)" }
    /// Shows the public key only.
    public var debugDescription: String { description }
}

/// CURVE settings of a connecting socket (client, worker, publisher, subscriber).
public struct ClientCurve: Sendable, Equatable {
    /// This process's own key pair; its public key must be in the broker's allow-list.
    public var keyPair: CurveKeyPair
    /// The broker's public key (Z85), which authenticates the broker to us.
    public var serverPublicKey: String

    /// Throws `BusError.invalidKey` unless `serverPublicKey` is 40 characters of Z85.
    public init(keyPair: CurveKeyPair, serverPublicKey: String) throws {
        try Z85.validateKey(serverPublicKey, role: "server public key")
        self.keyPair = keyPair
        self.serverPublicKey = serverPublicKey
    }
}

/// What one process admitted to the bus may do: the broker checks it on every message that
/// key sends, so an admitted key is not a licence to do everything.
public struct BusPeerPolicy: Sendable, Equatable {
    /// The process's name, which the broker tells workers as the caller (`RequestHeader.peer`).
    public var identity: String
    /// The MDP services it may register as a worker of.
    public var services: Set<String>
    /// The producer it may publish events as: only topics `<producer>.…` whose metadata names it.
    public var producer: String?
    /// Whether its calls may claim the `system` role.
    public var claimsSystem: Bool
    /// Whether it may publish live pushes to people (`stream.<accountId>` topics, Models' `StreamTopic`).
    public var pushesToStreams: Bool

    public init(
        identity: String, services: Set<String> = [], producer: String? = nil, claimsSystem: Bool = false,
        pushesToStreams: Bool = false
    ) {
        self.identity = identity
        self.services = services
        self.producer = producer
        self.claimsSystem = claimsSystem
        self.pushesToStreams = pushesToStreams
    }
}

/// CURVE settings of the broker: its key pair and, per admitted client key, that process's policy.
public struct BrokerCurve: Sendable, Equatable {
    /// The broker's key pair; clients are configured with its public key.
    public var keyPair: CurveKeyPair
    /// Public key (Z85) → policy, for every process allowed on the bus; the ZAP handler refuses the rest.
    public var peers: [String: BusPeerPolicy]

    /// Throws `BusError.invalidKey` naming the first peer key that is not valid Z85.
    public init(keyPair: CurveKeyPair, peers: [String: BusPeerPolicy]) throws {
        for key in peers.keys {
            try Z85.validateKey(key, role: "peer public key")
        }
        self.keyPair = keyPair
        self.peers = peers
    }
}

/// ZeroMQ's Z85 text encoding (RFC 32) of 32-byte CURVE keys.
enum Z85 {
    private static let alphabet = Set(
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// Throws unless `key` is exactly 40 Z85 characters; the error names the role, not the key.
    static func validateKey(_ key: String, role: String) throws(BusError) {
        let bytes = Array(key.utf8)
        guard bytes.count == 40 else {
            throw BusError(.invalidKey, detail: "\(role) must be 40 Z85 characters, got \(bytes.count)")
        }
        guard bytes.allSatisfy(alphabet.contains), decode(key) != nil else {
            throw BusError(.invalidKey, detail: "\(role) has characters outside the Z85 alphabet")
        }
    }

    /// The 32 bytes of a 40-character key, or nil.
    static func decode(_ key: String) -> Data? {
        guard key.utf8.count == 40 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, key) != nil else { return nil }
        return Data(bytes)
    }

    /// The 40-character text of a 32-byte key.
    static func encode(_ key: Data) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        let ok = key.withUnsafeBytes { raw in
            zmq_z85_encode(&text, raw.bindMemory(to: UInt8.self).baseAddress, 32) != nil
        }
        return ok ? String(zeroTerminated: text) : nil
    }
}

extension String {
    /// The text of a C buffer up to its first NUL.
    init(zeroTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
