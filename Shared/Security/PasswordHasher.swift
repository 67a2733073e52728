public import Foundation

/// Hashes and verifies passwords with scrypt, storing the parameters beside each hash.
///
/// Encoded hashes look like `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`:
/// - `ln` is log2 of the cost `N`, `r` the block size, `p` the parallelism, each a decimal number
///   without leading zeros, in that order;
/// - `<salt>` and `<hash>` are standard base64 (RFC 4648 §4) without `=` padding; the key length
///   and salt length are those of the decoded bytes.
///
/// Because each hash records its own parameters, the defaults can be raised at any time: old hashes
/// still verify, and `needsRehash(_:)` says which to replace at the user's next successful login.
///
/// Passwords are normalized to Unicode NFC before hashing, so the same typed password matches
/// whether a keyboard produced precomposed or decomposed accents.
///
/// A derivation takes tens of milliseconds of CPU and `128 · r · N` bytes (32 MiB by default). From
/// async code, the `async` overloads run it on the module's own threads, at most one per core, so
/// the cooperative pool is never blocked and a burst of logins cannot exhaust memory.
public struct PasswordHasher: Sendable, CustomStringConvertible {
    /// The scrypt parameters new hashes are made with.
    public let parameters: Parameters

    /// Creates a hasher that makes new hashes with `parameters`.
    public init(parameters: Parameters = .default) {
        self.parameters = parameters
    }

    /// The parameters, for logs and diagnostics.
    public var description: String { "PasswordHasher(\(parameters))" }

    /// Hashes `password` with a fresh random salt and returns the encoded hash.
    ///
    /// Blocks the calling thread for the whole derivation; from async code prefer the `async` overload.
    /// - Throws: `SecurityError.cryptoFailure` if libcrypto cannot allocate the memory.
    public func hash(_ password: String) throws -> String {
        let salt = SecureRandom.bytes(parameters.saltLength)
        let key = try parameters.derive(password: password, salt: salt, keyLength: parameters.keyLength)
        return EncodedHash(parameters: parameters, salt: salt, key: key).text
    }

    /// Whether `password` matches the encoded hash, derived with the parameters stored in it.
    ///
    /// Blocks the calling thread for the whole derivation; from async code prefer the `async` overload.
    /// - Throws: `SecurityError.malformed` if `encoded` is not in this type's format;
    ///   `SecurityError.invalidParameters` if its parameters are beyond `Parameters`' limits, so
    ///   a tampered hash cannot make us burn memory or CPU.
    public func verify(_ password: String, against encoded: String) throws -> Bool {
        let stored = try EncodedHash(parsing: encoded)
        let key = try stored.parameters.derive(password: password, salt: stored.salt, keyLength: stored.key.count)
        return ConstantTime.equals(key, stored.key)
    }

    /// Whether the encoded hash was made with weaker parameters than this hasher's, in any of
    /// cost, block size, parallelism, key length or salt length, and should be replaced.
    ///
    /// Call it after a successful `verify`, when the plain password is at hand to hash again. An
    /// encoded string that does not parse needs rehashing too.
    public func needsRehash(_ encoded: String) -> Bool {
        guard let stored = try? EncodedHash(parsing: encoded) else { return true }
        let old = stored.parameters
        return old.logN < parameters.logN || old.r < parameters.r || old.p < parameters.p
            || stored.key.count < parameters.keyLength || stored.salt.count < parameters.saltLength
    }

    /// Hashes `password` on the module's derivation threads, leaving the cooperative pool free.
    /// - Throws: as the synchronous `hash(_:)`; `SecurityError.deadlinePassed`, without hashing,
    ///   when the derivation would start after `deadline` (it waited behind others).
    public func hash(_ password: String, deadline: Date? = nil) async throws -> String {
        try await DerivationThreads.shared.run(deadline: deadline) { try self.hash(password) }
    }

    /// Verifies `password` on the module's derivation threads, leaving the cooperative pool free.
    /// - Throws: as the synchronous `verify(_:against:)`; `SecurityError.deadlinePassed`, without
    ///   deriving, when the derivation would start after `deadline`.
    public func verify(_ password: String, against encoded: String, deadline: Date? = nil) async throws -> Bool {
        try await DerivationThreads.shared.run(deadline: deadline) { try self.verify(password, against: encoded) }
    }
}

// MARK: Parameters

extension PasswordHasher {
    /// scrypt parameters, checked against limits that keep one derivation within bounds.
    ///
    /// The limits apply both to parameters a hasher is made with and to parameters read back from
    /// a stored hash: `logN` 1...20, `r` 1...32, `p` 1...16, memory `128 · r · 2^logN` at most
    /// 1 GiB, work `2^logN · r · p` at most 2^24 (64 times the default), key length 16...64 bytes,
    /// salt length 8...64 bytes.
    public struct Parameters: Sendable, Hashable, CustomStringConvertible {
        /// log2 of the cost `N`.
        public let logN: Int
        /// The block size `r`.
        public let r: Int
        /// The parallelism `p`.
        public let p: Int
        /// The length of the derived key, in bytes.
        public let keyLength: Int
        /// The length of the random salt, in bytes.
        public let saltLength: Int

        /// `N = 2^15, r = 8, p = 1`, a 32-byte key and a 16-byte salt: about 32 MiB and, on our
        /// machines, on the order of 100 ms per derivation.
        public static let `default` = Parameters(uncheckedLogN: 15, r: 8, p: 1, keyLength: 32, saltLength: 16)

        /// The cost `N = 2^logN`.
        public var n: UInt64 { 1 << UInt64(logN) }

        /// The parameters, for logs: `ln=15,r=8,p=1,key=32,salt=16`.
        public var description: String { "ln=\(logN),r=\(r),p=\(p),key=\(keyLength),salt=\(saltLength)" }

        /// Creates parameters after checking them against the limits.
        /// - Throws: `SecurityError.invalidParameters` if any is out of bounds.
        public init(logN: Int, r: Int, p: Int, keyLength: Int = 32, saltLength: Int = 16) throws {
            guard Self.withinLimits(logN: logN, r: r, p: p),
                (16...64).contains(keyLength), (8...64).contains(saltLength)
            else { throw SecurityError.invalidParameters }
            self.init(uncheckedLogN: logN, r: r, p: p, keyLength: keyLength, saltLength: saltLength)
        }

        private init(uncheckedLogN logN: Int, r: Int, p: Int, keyLength: Int, saltLength: Int) {
            self.logN = logN
            self.r = r
            self.p = p
            self.keyLength = keyLength
            self.saltLength = saltLength
        }

        /// Whether the cost parameters are within the limits; the ranges bound the products, so no
        /// arithmetic here can overflow.
        static func withinLimits(logN: Int, r: Int, p: Int) -> Bool {
            guard (1...20).contains(logN), (1...32).contains(r), (1...16).contains(p) else { return false }
            let n = 1 << logN
            return 128 * r * n <= 1 << 30 && n * r * p <= 1 << 24
        }

        /// Derives a key of `keyLength` bytes from the NFC form of `password`.
        func derive(password: String, salt: Data, keyLength: Int) throws -> Data {
            let normalized = Data(password.precomposedStringWithCanonicalMapping.utf8)
            return try Scrypt.derive(
                password: normalized, salt: salt, n: n, r: UInt64(r), p: UInt64(p), length: keyLength)
        }
    }
}

// MARK: The encoded form

/// One stored hash: `$scrypt$ln=<logN>,r=<r>,p=<p>$<salt>$<key>`.
private struct EncodedHash {
    let parameters: PasswordHasher.Parameters
    let salt: Data
    let key: Data

    init(parameters: PasswordHasher.Parameters, salt: Data, key: Data) {
        self.parameters = parameters
        self.salt = salt
        self.key = key
    }

    /// Parses and bounds-checks an encoded hash; the length cap comes first so that hostile input
    /// costs nothing to turn away.
    init(parsing text: String) throws {
        guard text.utf8.count <= 256 else { throw SecurityError.malformed }
        let fields = text.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1] == "scrypt" else { throw SecurityError.malformed }

        let settings = fields[2].split(separator: ",", omittingEmptySubsequences: false)
        guard settings.count == 3,
            let logN = Self.number(settings[0], named: "ln"),
            let r = Self.number(settings[1], named: "r"),
            let p = Self.number(settings[2], named: "p"),
            let salt = Base64.decode(fields[3], alphabet: .standard),
            let key = Base64.decode(fields[4], alphabet: .standard)
        else { throw SecurityError.malformed }

        self.init(
            parameters: try PasswordHasher.Parameters(
                logN: logN, r: r, p: p, keyLength: key.count, saltLength: salt.count),
            salt: salt, key: key)
    }

    var text: String {
        "$scrypt$ln=\(parameters.logN),r=\(parameters.r),p=\(parameters.p)$"
            + Base64.encode(salt, alphabet: .standard) + "$" + Base64.encode(key, alphabet: .standard)
    }

    /// Reads `name=<decimal>`: at most four digits and no leading zero, so each value has one spelling.
    private static func number(_ field: Substring, named name: String) -> Int? {
        guard field.hasPrefix(name + "=") else { return nil }
        let digits = field.dropFirst(name.count + 1)
        guard (1...4).contains(digits.utf8.count),
            digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            digits.utf8.count == 1 || digits.first != "0"
        else { return nil }
        return Int(digits)
    }
}
