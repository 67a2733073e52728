public import Bus
import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOSSL
import ServiceKit

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
    let router = Router(context: GatewayRequestContext.self)
    let sessions = SessionCache(bus: bus, lifetime: sessionCacheLifetime)
    router.add(middleware: RequestTraceMiddleware<GatewayRequestContext>())
    router.add(middleware: AuthenticationMiddleware(sessions: sessions, proxies: trustedProxies))
    router.add(middleware: ProblemMiddleware<GatewayRequestContext>())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: MethodNotAllowedMiddleware(openAPIDocument: OpenAPIDocument.data))
    PlatformRoutes(bus: bus, openAPIDocument: OpenAPIDocument.data).register(on: router)
    let accountRoutes = AccountRoutes(bus: bus, sessions: sessions, secureCookies: secureCookies)
    accountRoutes.register(on: router)
    let exports = PlatformExport(bus: bus, deadline: exportDeadline)
    PrivacyRoutes(bus: bus, sessions: sessions, accountRoutes: accountRoutes, exports: exports).register(on: router)
    StaffRoutes(bus: bus, exports: exports).register(on: router)
    DirectoryRoutes(bus: bus).register(on: router)
    ChatRoutes(bus: bus).register(on: router)
    return router
}

/// Builds the gateway application, with TLS when the settings name a certificate.
public func buildGatewayApplication(
    settings: GatewaySettings, bus: BusClient, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = buildGatewayRouter(
        bus: bus, secureCookies: settings.tls != nil, trustedProxies: settings.trustedProxies)
    let configuration = ApplicationConfiguration(
        address: .hostname(settings.host, port: settings.port), serverName: "advisor-gateway")
    let server: HTTPServerBuilder
    if let tls = settings.tls {
        let certificates = try NIOSSLCertificate.fromPEMFile(tls.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: tls.keyPath, format: .pem)
        server = try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: certificates, privateKey: .privateKey(key)))
    } else {
        server = .http1()
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
