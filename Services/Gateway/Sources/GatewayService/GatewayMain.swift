import Bus
import Logging
public import ServiceKit

/// The gateway process: the public HTTP API in front of the bus.
public enum GatewayMain {
    public static let definition = EdgeServiceDefinition(
        name: "gateway", read: { GatewaySettings(reading: &$0) }, process: \.process
    ) { settings, process in
        let caller = BusCaller(context: process.context, settings: settings.process, logger: process.logger)
        let scheme = settings.tls == nil ? "http" : "https"
        let logger = process.logger
        let app = try buildGatewayApplication(settings: settings, bus: caller.bus, logger: logger) { port in
            logger.info("gateway listening", metadata: ["http.url": "\(scheme)://\(settings.host):\(port)"])
        }
        return EdgeParts(resources: [caller.resource], services: [app], readiness: caller.readiness)
    }
}
