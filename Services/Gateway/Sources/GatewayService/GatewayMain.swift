import Bus
import Logging
import Models
public import ServiceKit

/// The gateway process: the public HTTP API in front of the bus.
public enum GatewayMain {
    public static let definition = EdgeServiceDefinition(
        name: "gateway", read: { GatewaySettings(reading: &$0) }, process: \.process
    ) { settings, process in
        let caller = BusCaller(context: process.context, settings: settings.process, logger: process.logger)
        let scheme = settings.tls == nil ? "http" : "https"
        let logger = process.logger
        let endpoints = settings.process.endpoints
        let hub = StreamHub(
            bus: caller.bus,
            subscriber: EventSubscriber(
                context: process.context, endpoint: endpoints.eventsOut, prefixes: [Directory.AdvisorStatusChanged.type],
                curve: settings.process.curve, logger: logger),
            publisher: EventPublisher(
                context: process.context, endpoint: endpoints.eventsIn, curve: settings.process.curve, logger: logger),
            logger: logger)
        let app = try buildGatewayApplication(settings: settings, bus: caller.bus, hub: hub, logger: logger) { port in
            logger.info("gateway listening", metadata: ["http.url": "\(scheme)://\(settings.host):\(port)"])
        }
        // The hub stops first (services stop in reverse), closing every stream with 1012 so
        // clients resume elsewhere before the HTTP server drains.
        return EdgeParts(resources: [caller.resource], services: [app, hub], readiness: caller.readiness)
    }
}
