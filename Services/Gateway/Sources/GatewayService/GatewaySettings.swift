import Foundation
public import ServiceKit

/// The gateway's settings: where it listens for front ends and, optionally, its TLS certificate.
public struct GatewaySettings: Sendable {
    public var process: ProcessSettings
    public var host: String
    public var port: Int
    /// PEM certificate chain and private key paths; both set means the gateway speaks HTTPS only.
    public var tls: (certificatePath: String, keyPath: String)?
    /// `GATEWAY_TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks whose forwarding
    /// header (`GATEWAY_FORWARDED_HEADER`: `x-forwarded-for`, the default, or `forwarded`) names
    /// the client; empty (the default) trusts none.
    public var trustedProxies: TrustedProxies

    public init(reading reader: inout ConfigReader) {
        process = ProcessSettings(reading: &reader)
        host = reader.string("GATEWAY_HOST", default: "127.0.0.1")
        port = reader.int("GATEWAY_PORT", default: 8080, in: 0...65535)
        var networks: [IPNetwork] = []
        for entry in reader.list("GATEWAY_TRUSTED_PROXIES") {
            guard let network = IPNetwork(entry) else {
                reader.problem("GATEWAY_TRUSTED_PROXIES: \"\(entry)\" is not an IP address or CIDR block")
                continue
            }
            networks.append(network)
        }
        let header = reader.choice(
            "GATEWAY_FORWARDED_HEADER", default: TrustedProxies.Header.xForwardedFor.rawValue,
            from: [TrustedProxies.Header.xForwardedFor.rawValue, TrustedProxies.Header.forwarded.rawValue])
        trustedProxies = TrustedProxies(networks, header: TrustedProxies.Header(rawValue: header) ?? .xForwardedFor)
        switch (reader.raw("GATEWAY_TLS_CERT"), reader.raw("GATEWAY_TLS_KEY")) {
        case (nil, nil): tls = nil
        case (let cert?, let key?): tls = (cert, key)
        default:
            tls = nil
            reader.problem("GATEWAY_TLS_CERT and GATEWAY_TLS_KEY go together: set both or neither")
        }
    }
}
