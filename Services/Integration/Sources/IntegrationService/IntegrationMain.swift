import Bus
import Foundation
public import Hummingbird
import Logging
public import ServiceKit

/// The integration process's settings: where partners reach it.
public struct IntegrationSettings: Sendable {
    public var process: ProcessSettings
    public var host: String
    public var port: Int

    public init(reading reader: inout ConfigReader) {
        process = ProcessSettings(reading: &reader)
        host = reader.string("INTEGRATION_HOST", default: "127.0.0.1")
        port = reader.int("INTEGRATION_PORT", default: 8081, in: 0...65535)
    }
}

/// The context of one partner request.
public struct IntegrationRequestContext: IdentifiedRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String

    public init(source: Source) {
        coreContext = .init(source: source)
        requestId = ""
    }

    public var maxUploadSize: Int { HTTPLimits.maxBodyBytes }
}

/// Builds the partner-facing router. Partner routes arrive with the integration issues; until then
/// it answers liveness and problem+json 404s like every public entry.
public func buildIntegrationRouter() -> Router<IntegrationRequestContext> {
    let router = Router(context: IntegrationRequestContext.self)
    router.add(middleware: RequestTraceMiddleware<IntegrationRequestContext>())
    router.add(middleware: ProblemMiddleware<IntegrationRequestContext>())
    router.get("healthz") { _, _ in "ok\n" }
    return router
}

/// The integration process: the HTTP entry for partners.
public enum IntegrationMain {
    public static let definition = EdgeServiceDefinition(
        name: "integration", read: { IntegrationSettings(reading: &$0) }, process: \.process
    ) { settings, process in
        let caller = BusCaller(context: process.context, settings: settings.process, logger: process.logger)
        let logger = process.logger
        let app = Application(
            router: buildIntegrationRouter(),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "advisor-integration"),
            onServerRunning: { channel in
                logger.info("integration listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        return EdgeParts(resources: [caller.resource], services: [app], readiness: caller.readiness)
    }
}
