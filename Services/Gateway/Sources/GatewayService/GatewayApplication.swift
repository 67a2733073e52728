public import Bus
import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
public import Logging
import Models
import NIOCore
import NIOSSL
import ServiceKit
import WebClient

/// Builds the gateway's router: every public route behind the authentication and problem middleware.
///
/// - Parameters:
///   - secureCookies: mark the session cookie `Secure` (the gateway speaks TLS).
///   - sessionCacheLifetime: how long a resolved session token is trusted before accounts is asked again.
///   - exportDeadline: how long `GET /v1/me/export` waits for every service's section.
///   - trustedProxies: whose forwarding headers name the client's address.
public func buildGatewayRouter(
    bus: BusClient, secureCookies: Bool = false, sessionCacheLifetime: Duration = .seconds(2),
    exportDeadline: Duration = .seconds(5), trustedProxies: TrustedProxies = .none
) -> Router<GatewayRequestContext> {
    let sessions = SessionCache(bus: bus, lifetime: sessionCacheLifetime)
    return buildGatewayRouter(
        bus: bus, sessions: sessions, streamGate: StreamGate(sessions: sessions, allowedOrigins: []),
        secureCookies: secureCookies, exportDeadline: exportDeadline, trustedProxies: trustedProxies)
}

func buildGatewayRouter(
    bus: BusClient, sessions: SessionCache, streamGate: StreamGate, secureCookies: Bool, exportDeadline: Duration,
    trustedProxies: TrustedProxies, publicURL: String? = nil, processorURL: String? = nil
) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    router.add(middleware: RequestTraceMiddleware<GatewayRequestContext>())
    router.add(middleware: AuthenticationMiddleware(sessions: sessions, proxies: trustedProxies))
    router.add(middleware: ProblemMiddleware<GatewayRequestContext>())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: CrossSiteChangeMiddleware(publicURL: publicURL, allowedOrigins: streamGate.allowedOrigins))
    router.add(middleware: MethodNotAllowedMiddleware(openAPIDocument: OpenAPIDocument.data))
    PlatformRoutes(bus: bus, openAPIDocument: OpenAPIDocument.data).register(on: router)
    let accountRoutes = AccountRoutes(bus: bus, sessions: sessions, secureCookies: secureCookies)
    accountRoutes.register(on: router)
    let exports = PlatformExport(bus: bus, deadline: exportDeadline)
    PrivacyRoutes(bus: bus, sessions: sessions, accountRoutes: accountRoutes, exports: exports).register(on: router)
    StaffRoutes(bus: bus, exports: exports, policies: sessions.policies).register(on: router)
    DirectoryRoutes(bus: bus).register(on: router)
    ChatRoutes(bus: bus).register(on: router)
    BillingRoutes(bus: bus).register(on: router)
    BoardsRoutes(bus: bus).register(on: router)
    NotificationsRoutes(bus: bus).register(on: router)
    OAuthRoutes(bus: bus, secure: secureCookies, publicURL: publicURL).register(on: router)
    SocialSignInRoutes(bus: bus, accountRoutes: accountRoutes, secure: secureCookies, publicURL: publicURL).register(on: router)
    streamGate.register(on: router)
    PageViewRoutes(secureCookies: secureCookies).register(on: router)
    WebClientRoutes(folder: WebClient.folder, processorURL: processorURL).register(on: router)
    return router
}

/// Builds the gateway application, with TLS when the settings name a certificate: the routes,
/// and `GET /v1/stream` upgraded to a WebSocket served by `hub`.
func buildGatewayApplication(
    settings: GatewaySettings, bus: BusClient, hub: StreamHub, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let sessions = SessionCache(bus: bus)
    let gate = StreamGate(sessions: sessions, allowedOrigins: settings.stream.allowedOrigins)
    let router = buildGatewayRouter(
        bus: bus, sessions: sessions, streamGate: gate, secureCookies: settings.tls != nil, exportDeadline: .seconds(5),
        trustedProxies: settings.trustedProxies, publicURL: settings.publicURL, processorURL: settings.processorURL)
    let configuration = ApplicationConfiguration(
        address: .hostname(settings.host, port: settings.port), serverName: "advisor-gateway")
    let stream = settings.stream
    let http = HTTPServerBuilder.http1WebSocketUpgrade(
        configuration: .init(
            ws: .init(
                maxFrameSize: stream.maxClientMessageBytes, autoPing: .enabled(timePeriod: stream.pingInterval),
                closeTimeout: stream.closeTimeout, validateUTF8: true))
    ) { request, channel, logger in
        guard request.path?.split(separator: "?", maxSplits: 1).first == "/v1/stream" else { return .dontUpgrade }
        let admission = await gate.admit(path: request.path ?? "", authority: request.authority, headers: request.headerFields)
        var headers = HTTPFields()
        if case .success(let admitted) = admission, let subprotocol = admitted.subprotocol {
            headers[.secWebSocketProtocol] = subprotocol
        }
        return .upgrade(headers) { inbound, outbound, context in
            switch admission {
            case .success(let admitted):
                // A bounded kernel buffer per connection: memory stays small with thousands of
                // clients, and one that stops reading reaches its send queue's limit soon.
                try? await channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: stream.socketSendBufferBytes)
                let connection = StreamConnection(
                    session: admitted.session, doNotTrack: admitted.doNotTrack, queueLimit: stream.queueLimit)
                await connection.serve(
                    inbound: inbound, outbound: outbound, channel: channel, resume: admitted.resume, hub: hub,
                    sessions: sessions, settings: stream, logger: context.logger)
            case .failure(let refusal):
                // A browser script sees only close codes, never the handshake's status: a refusal
                // is an upgrade closed at once with a code that says why (docs/api.md).
                context.logger.info("stream refused", metadata: ["error.code": "\(refusal.code.rawValue)"])
                try? await outbound.close(StreamConnection.Closing.refused(refusal).code, reason: refusal.message)
                // Nothing more is owed to a refused client: the connection ends with the close frame.
                try? await channel.close()
            }
        }
    }
    let server: HTTPServerBuilder
    if let tls = settings.tls {
        let certificates = try NIOSSLCertificate.fromPEMFile(tls.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: tls.keyPath, format: .pem)
        server = try .tls(http, tlsConfiguration: .makeServerConfiguration(certificateChain: certificates, privateKey: .privateKey(key)))
    } else {
        server = http
    }
    return Application(
        router: router, server: server, configuration: configuration,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
        logger: logger)
}

/// The OpenAPI 3.1 description of the public API, served at `/openapi.json`.
enum OpenAPIDocument {
    static let data: Data = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
            let data = try? Data(contentsOf: url)
        else { fatalError("openapi.json is missing from the gateway's resources") }
        return data
    }()
}
