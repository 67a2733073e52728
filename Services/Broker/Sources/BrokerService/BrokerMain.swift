public import Bus
import Foundation
import Logging
import Models
import Prometheus
public import ServiceKit

/// The broker's settings: the endpoints it binds, and its CURVE keys with the processes it admits.
public struct BrokerSettings: Sendable {
    public var process: ProcessSettings
    public var curve: BrokerCurve?

    public init(reading reader: inout ConfigReader) {
        process = ProcessSettings(reading: &reader)
        curve = nil
        if reader.raw("BUS_CURVE_ALLOWED_KEYS") != nil {
            reader.problem("BUS_CURVE_ALLOWED_KEYS is replaced by BUS_CURVE_PEERS (name=key pairs: platform curve-env prints them)")
        }
        let entries = reader.list("BUS_CURVE_PEERS")
        var peers: [String: BusPeerPolicy] = [:]
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let policy = Self.policy(for: parts[0]) else {
                reader.problem(
                    "BUS_CURVE_PEERS entries are <process>=<public key>, the process one of "
                        + Self.processes.joined(separator: ", ") + "; got \"\(parts.first ?? entry)\"")
                continue
            }
            guard peers[parts[1]] == nil else {
                reader.problem("BUS_CURVE_PEERS gives one public key to two processes; each process needs its own key")
                continue
            }
            peers[parts[1]] = policy
        }
        if let pair = process.curve?.keyPair ?? Self.ownKeyPair(&reader) {
            if !peers.isEmpty, let valid = try? BrokerCurve(keyPair: pair, peers: peers) {
                curve = valid
            } else {
                reader.problem("BUS_CURVE_PEERS must name every other process with its 40-character Z85 public key")
            }
        } else if !entries.isEmpty {
            reader.problem("BUS_CURVE_PEERS needs BUS_CURVE_PUBLIC_KEY and BUS_CURVE_SECRET_KEY")
        }
    }

    /// The processes a key may be given to, in the order operators see them.
    static let processes = ServiceName.all.map(\.rawValue) + ["gateway", "integration", "platform"]

    /// What each process of the platform may do on the bus: a service registers as itself,
    /// publishes its own events and calls as the platform (relays, replays); the gateway only
    /// calls, for the people it authenticated; the integration service and the operator's
    /// `platform` tool call as the platform (provider webhooks, operator commands).
    static func policy(for process: String) -> BusPeerPolicy? {
        if ServiceName.all.contains(ServiceName(process)) {
            return BusPeerPolicy(identity: process, services: [process], producer: process, claimsSystem: true)
        }
        switch process {
        case "gateway": return BusPeerPolicy(identity: process)
        case "integration", "platform": return BusPeerPolicy(identity: process, claimsSystem: true)
        default: return nil
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
