#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address, parsed (never compared as text): for trusted-proxy checks and the
/// keys that rate limits count by.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is kept as
    /// the IPv4 address it maps, so one client has one form.
    public let bytes: [UInt8]

    /// Parses dotted IPv4 or RFC 4291 IPv6 text (brackets and a zone are not accepted); nil otherwise.
    public init?(_ text: String) {
        guard text.utf8.count <= 45, !text.isEmpty else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let all = withUnsafeBytes(of: &v6) { Array($0) }
        if all[0..<10].allSatisfy({ $0 == 0 }) && all[10] == 0xFF && all[11] == 0xFF {
            bytes = Array(all[12..<16])
        } else {
            bytes = all
        }
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// The canonical text form (RFC 5952 for IPv6).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = bytes
        let family = isIPv4 ? AF_INET : AF_INET6
        guard inet_ntop(family, &copy, &buffer, socklen_t(buffer.count)) != nil else { return "invalid" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What rate limits count by: the address itself for IPv4, its /64 for IPv6, since one
    /// subscriber is routinely given a whole /64 and can pick any address in it.
    public var rateLimitKey: String {
        guard !isIPv4 else { return description }
        let prefix = IPAddress(uncheckedBytes: Array(bytes[0..<8]) + Array(repeating: 0, count: 8))
        return "\(prefix)/64"
    }

    private init(uncheckedBytes: [UInt8]) {
        bytes = uncheckedBytes
    }

    /// The rate-limit key of an address given as text; text that is not an address is its own key.
    public static func rateLimitKey(_ text: String) -> String {
        IPAddress(text)?.rateLimitKey ?? text
    }
}

/// A block of addresses, `192.0.2.0/24` or `2001:db8::/32`; a bare address is a block of one.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `address` or `address/prefix`; nil when either part is invalid.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.bytes.count * 8
        if parts.count == 2 {
            guard parts[1].allSatisfy(\.isASCII), let length = Int(parts[1]), (0...bits).contains(length) else {
                return nil
            }
            prefixLength = length
        } else {
            prefixLength = bits
        }
        self.address = address
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// Whether `candidate` lies in this block (never across address families).
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        var remaining = prefixLength
        for (mine, theirs) in zip(address.bytes, candidate.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if mine & mask != theirs & mask { return false }
            remaining -= 8
        }
        return true
    }
}
