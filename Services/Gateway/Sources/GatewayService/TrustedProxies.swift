import Foundation
import HTTPTypes
public import ServiceKit

/// The proxies and load balancers in front of the gateway (`GATEWAY_TRUSTED_PROXIES`), whose
/// forwarding header is believed; from anyone else it is ignored, so a client cannot pick the
/// address its rate limits and sign-in history are kept under.
///
/// Only the one header the proxies write is read (`GATEWAY_FORWARDED_HEADER`): proxies append to
/// their own header and pass the other through untouched, so a client could otherwise send the
/// other one with any address in it.
public struct TrustedProxies: Sendable {
    /// The forwarding header the trusted proxies write.
    public enum Header: String, Sendable {
        /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most cloud load balancers).
        case xForwardedFor = "x-forwarded-for"
        /// RFC 7239's `Forwarded: for=client, for=proxy1`.
        case forwarded
    }

    public let networks: [IPNetwork]
    public let header: Header

    public init(_ networks: [IPNetwork] = [], header: Header = .xForwardedFor) {
        self.networks = networks
        self.header = header
    }

    /// No proxy is trusted: the connection's peer is the client.
    public static let none = TrustedProxies()

    func trusts(_ address: IPAddress) -> Bool {
        networks.contains { $0.contains(address) }
    }

    /// The client's address: the socket peer, or, when the peer is trusted, the nearest address
    /// in the forwarding chain that is not a trusted proxy, read from the right (the left part of
    /// the chain is whatever the client chose to send). An entry that is not an address
    /// (`unknown`, an obfuscated name) ends the walk at the trusted hop that reported it.
    func clientAddress(peer: String, headers: HTTPFields) -> String {
        guard !networks.isEmpty, var current = IPAddress(peer), trusts(current) else { return peer }
        for entry in Self.chain(in: headers, header: header).reversed() {
            guard let address = IPAddress(Self.strippingPort(entry)) else { break }
            current = address
            if !trusts(address) { break }
        }
        return current.description
    }

    /// The forwarded-for entries of `header`, first hop first.
    static func chain(in headers: HTTPFields, header: Header) -> [String] {
        if header == .forwarded {
            return headers[values: .forwarded].joined(separator: ",").split(separator: ",").compactMap { element in
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
