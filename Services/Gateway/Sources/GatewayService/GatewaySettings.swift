public import ServiceKit

/// The gateway's settings: where it listens for front ends and, optionally, its TLS certificate.
public struct GatewaySettings: Sendable {
    public var process: ProcessSettings
    public var host: String
    public var port: Int
    /// PEM certificate chain and private key paths; both set means the gateway speaks HTTPS only.
    public var tls: (certificatePath: String, keyPath: String)?

    public init(reading reader: inout ConfigReader) {
        process = ProcessSettings(reading: &reader)
        host = reader.string("GATEWAY_HOST", default: "127.0.0.1")
        port = reader.int("GATEWAY_PORT", default: 8080, in: 0...65535)
        switch (reader.raw("GATEWAY_TLS_CERT"), reader.raw("GATEWAY_TLS_KEY")) {
        case (nil, nil): tls = nil
        case (let cert?, let key?): tls = (cert, key)
        default:
            tls = nil
            reader.problem("GATEWAY_TLS_CERT and GATEWAY_TLS_KEY go together: set both or neither")
        }
    }
}
