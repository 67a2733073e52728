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
    router.add(middleware: ProblemMiddleware<IntegrationRequestContext>())
    router.get("healthz") { _, _ in "ok\n" }
    return router
}

/// Runs the integration process: the HTTP entry for partners.
public enum IntegrationMain {
    public static func run() async -> Never {
        let settings = ProcessSettings.load("integration") { IntegrationSettings(reading: &$0) }
        LoggingSetup.bootstrap(format: settings.process.logFormat, level: settings.process.logLevel)
        let registry = MetricsSetup.bootstrap()
        let logger = Logger(label: "advisor.integration")
        let caller = BusCaller(settings: settings.process, logger: logger)
        let app = Application(
            router: buildIntegrationRouter(),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "advisor-integration"),
            onServerRunning: { channel in
                logger.info("integration listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        let admin = AdminServer.build(
            host: settings.process.adminHost, port: settings.process.adminPort, readiness: caller.readiness,
            registry: registry, processName: "integration", logger: logger)
        await ProcessMain.serve(logger: logger) {
            [admin, app]
        } cleanup: {
            await caller.close()
        }
    }
}
