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
    public var stream: StreamSettings
    /// Where people and partners reach the gateway (`GATEWAY_PUBLIC_URL`, e.g. `https://advisor.example`):
    /// the OAuth issuer its metadata names. Unset, the gateway as a request reached it.
    public var publicURL: String?
    /// The payment processor as browsers reach it (`GATEWAY_PROCESSOR_URL`): the web client sends a
    /// card there (`/v1/tokens`) and only the processor's token to the gateway. Unset, the client
    /// cannot add cards.
    public var processorURL: String?

    public init(reading reader: inout ConfigReader) {
        process = ProcessSettings(reading: &reader)
        stream = StreamSettings(reading: &reader)
        host = reader.string("GATEWAY_HOST", default: "127.0.0.1")
        port = reader.int("GATEWAY_PORT", default: 8080, in: 0...65535)
        if reader.raw("GATEWAY_PUBLIC_URL") != nil { publicURL = reader.httpURL("GATEWAY_PUBLIC_URL", default: "") }
        if reader.raw("GATEWAY_PROCESSOR_URL") != nil { processorURL = reader.httpURL("GATEWAY_PROCESSOR_URL", default: "") }
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

/// The settings of `GET /v1/stream`.
public struct StreamSettings: Sendable {
    /// `GATEWAY_ALLOWED_ORIGINS`: comma-separated origins (`https://app.example.com`) whose pages
    /// may open the stream, besides the gateway's own.
    public var allowedOrigins: Set<String> = []
    /// `GATEWAY_STREAM_QUEUE`: messages waiting for one client before it is closed as too slow.
    public var queueLimit = 256
    /// `GATEWAY_STREAM_SEND_BUFFER_BYTES`: the kernel's send buffer of each stream connection.
    public var socketSendBufferBytes = 64 * 1024
    /// `GATEWAY_STREAM_PING_SECONDS`: how often the gateway pings; a client that misses a pong is closed.
    public var pingInterval = Duration.seconds(20)
    /// `GATEWAY_STREAM_CLOSE_SECONDS`: how long a closing connection's close frame may wait to be
    /// written (behind what a slow client has not read) before the connection is cut.
    public var closeTimeout = Duration.seconds(5)
    /// How often a connection's session is checked again (signed out or erased people are closed).
    public var sessionCheckInterval = Duration.seconds(60)
    public var maxClientMessageBytes = 64 * 1024
    public var messageBurst = 40
    public var messagesPerSecond = 20
    public var maxWatchedAdvisors = 200

    public init() {}

    init(reading reader: inout ConfigReader) {
        allowedOrigins = Set(reader.list("GATEWAY_ALLOWED_ORIGINS"))
        queueLimit = reader.int("GATEWAY_STREAM_QUEUE", default: queueLimit, in: 8...100_000)
        socketSendBufferBytes = reader.int(
            "GATEWAY_STREAM_SEND_BUFFER_BYTES", default: socketSendBufferBytes, in: 4096...(16 * 1024 * 1024))
        pingInterval = .seconds(reader.int("GATEWAY_STREAM_PING_SECONDS", default: 20, in: 1...3600))
        closeTimeout = .seconds(reader.int("GATEWAY_STREAM_CLOSE_SECONDS", default: 5, in: 1...300))
    }
}
