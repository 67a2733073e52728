import Foundation
import HTTPTypes
public import ServiceKit

/// The proxies and load balancers in front of the gateway (`GATEWAY_TRUSTED_PROXIES`), whose
/// `Forwarded` or `X-Forwarded-For` header is believed; from anyone else the header is ignored,
/// so a client cannot pick the address its rate limits and sign-in history are kept under.
public struct TrustedProxies: Sendable {
    public let networks: [IPNetwork]

    public init(_ networks: [IPNetwork] = []) {
        self.networks = networks
    }

    /// No proxy is trusted: the connection's peer is the client.
    public static let none = TrustedProxies()

    func trusts(_ address: IPAddress) -> Bool {
        networks.contains { $0.contains(address) }
    }

    /// The client's address: the socket peer, or, when the peer is trusted, the nearest address
    /// in the forwarding chain that is not a trusted proxy, read from the right (the left part of
    /// the chain is whatever the client chose to send). `Forwarded` (RFC 7239) is read before
    /// `X-Forwarded-For`. An entry that is not an address (`unknown`, an obfuscated name) ends
    /// the walk at the trusted hop that reported it.
    func clientAddress(peer: String, headers: HTTPFields) -> String {
        guard !networks.isEmpty, var current = IPAddress(peer), trusts(current) else { return peer }
        for entry in Self.chain(in: headers).reversed() {
            guard let address = IPAddress(Self.strippingPort(entry)) else { break }
            current = address
            if !trusts(address) { break }
        }
        return current.description
    }

    /// The forwarded-for entries, first hop first.
    static func chain(in headers: HTTPFields) -> [String] {
        let forwarded = headers[values: .forwarded]
        if !forwarded.isEmpty {
            return forwarded.joined(separator: ",").split(separator: ",").compactMap { element in
                element.split(separator: ";").lazy.compactMap { pair -> String? in
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" else {
                        return nil
                    }
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }.first
            }
        }
        return headers[values: .xForwardedFor].joined(separator: ",").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
    }

    /// `"[2001:db8::1]:4711"` → `2001:db8::1`, `192.0.2.1:80` → `192.0.2.1`; others unchanged.
    static func strippingPort(_ entry: String) -> String {
        var text = Substring(entry)
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return String(text) }
            return String(text[text.index(after: text.startIndex)..<close])
        }
        if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            return String(text[..<colon])
        }
        return String(text)
    }
}

extension HTTPField.Name {
    /// RFC 7239's forwarding header.
    static let forwarded = Self("Forwarded")!
    /// The de facto forwarding header: `client, proxy1, proxy2`.
    static let xForwardedFor = Self("X-Forwarded-For")!
}
