import Bus
import Foundation
import Logging
import ServiceKit

/// Runs the gateway process: the public HTTP API in front of the bus.
public enum GatewayMain {
    public static func run() async -> Never {
        let settings = ProcessSettings.load("gateway") { GatewaySettings(reading: &$0) }
        LoggingSetup.bootstrap(format: settings.process.logFormat, level: settings.process.logLevel)
        let registry = MetricsSetup.bootstrap()
        let logger = {
            var logger = Logger(label: "advisor.gateway")
            logger[metadataKey: "service.instance"] = "\(settings.process.instanceId)"
            return logger
        }()
        let caller = BusCaller(settings: settings.process, logger: logger)
        await ProcessMain.serve(logger: logger) {
            let scheme = settings.tls == nil ? "http" : "https"
            let app = try buildGatewayApplication(settings: settings, bus: caller.bus, logger: logger) { port in
                logger.info("gateway listening", metadata: ["http.url": "\(scheme)://\(settings.host):\(port)"])
            }
            let admin = AdminServer.build(
                host: settings.process.adminHost, port: settings.process.adminPort, readiness: caller.readiness,
                registry: registry, processName: "gateway", logger: logger)
            return [admin, app]
        } cleanup: {
            await caller.close()
        }
    }
}
