public import Bus
import Foundation
import Logging
import Prometheus
public import ServiceKit

/// The broker's settings: the endpoints it binds, and its CURVE keys with the public keys it admits.
public struct BrokerSettings: Sendable {
    public var process: ProcessSettings
    public var curve: BrokerCurve?

    public init(reading reader: inout ConfigReader) {
        process = ProcessSettings(reading: &reader)
        curve = nil
        let allowed = (reader.raw("BUS_CURVE_ALLOWED_KEYS") ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let pair = process.curve?.keyPair ?? Self.ownKeyPair(&reader) {
            if !allowed.isEmpty, let valid = try? BrokerCurve(keyPair: pair, allowedClientKeys: Set(allowed)) {
                curve = valid
            } else {
                reader.problem("BUS_CURVE_ALLOWED_KEYS must list the 40-character Z85 public keys of every other process")
            }
        } else if !allowed.isEmpty {
            reader.problem("BUS_CURVE_ALLOWED_KEYS needs BUS_CURVE_PUBLIC_KEY and BUS_CURVE_SECRET_KEY")
        }
    }

    /// The broker is the CURVE server, so it needs no server key: only its own pair.
    private static func ownKeyPair(_ reader: inout ConfigReader) -> CurveKeyPair? {
        guard let publicKey = reader.raw("BUS_CURVE_PUBLIC_KEY"), let secretKey = reader.raw("BUS_CURVE_SECRET_KEY")
        else { return nil }
        return try? CurveKeyPair(publicKey: publicKey, secretKey: secretKey)
    }
}

/// Runs the broker process: MDP on `BROKER_ENDPOINT`, the event exchange on the events endpoints.
public enum BrokerMain {
    public static func run() async -> Never {
        var environment = ProcessInfo.processInfo.environment
        // The broker is the CURVE server: it has no server key to name, and reading one must not fail.
        if environment["BUS_CURVE_SERVER_KEY"] == nil, let own = environment["BUS_CURVE_PUBLIC_KEY"] {
            environment["BUS_CURVE_SERVER_KEY"] = own
        }
        let settings = ProcessSettings.load("broker", environment: environment) { BrokerSettings(reading: &$0) }
        LoggingSetup.bootstrap(format: settings.process.logFormat, level: settings.process.logLevel)
        let registry = MetricsSetup.bootstrap()
        let logger = Logger(label: "advisor.broker")
        let context = settings.process.busContext(logger: logger)
        let broker = Broker(
            context: context, endpoints: settings.process.endpoints, curve: settings.curve, logger: logger)
        if settings.curve == nil {
            logger.warning("bus runs without CURVE: local development only")
        }
        await ProcessMain.serve(logger: logger) {
            try await broker.start()
            logger.info(
                "broker listening",
                metadata: [
                    "bus.mdp": "\(settings.process.endpoints.mdp)",
                    "bus.events_in": "\(settings.process.endpoints.eventsIn)",
                    "bus.events_out": "\(settings.process.endpoints.eventsOut)",
                ])
            var readiness = ReadinessChecks()
            readiness.add("broker") { true }
            return [
                AdminServer.build(
                    host: settings.process.adminHost, port: settings.process.adminPort, readiness: readiness,
                    registry: registry, processName: "broker", logger: logger)
            ]
        } cleanup: {
            await broker.stop()
            await context.shutdown()
        }
    }
}
