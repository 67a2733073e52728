public import Bus
public import Foundation
import Logging
import Models
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
    /// publishes its own events and live pushes, and calls as the platform (relays, replays); the
    /// gateway calls for the people it authenticated and publishes only the probes that tell it a
    /// stream subscription is in force; the integration service serves the providers it fronts
    /// (`payments`, `sms`, `identity`) and, like the operator's `platform` tool, calls as the platform (provider
    /// webhooks, operator commands).
    static func policy(for process: String) -> BusPeerPolicy? {
        if ServiceName.all.contains(ServiceName(process)) {
            return BusPeerPolicy(
                identity: process, services: [process], producer: process, claimsSystem: true, pushesToStreams: true)
        }
        switch process {
        case "gateway": return BusPeerPolicy(identity: process, pushesToStreams: true)
        case "integration":
            return BusPeerPolicy(
                identity: process, services: [ServiceName.payments.rawValue, ServiceName.sms.rawValue, ServiceName.identity.rawValue],
                claimsSystem: true)
        case "platform": return BusPeerPolicy(identity: process, claimsSystem: true)
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

/// The broker process: MDP on `BROKER_ENDPOINT`, the event exchange on the events endpoints.
public enum BrokerMain {
    public static let definition = EdgeServiceDefinition(
        name: "broker", read: { BrokerSettings(reading: &$0) }, process: \.process
    ) { settings, process in
        let broker = Broker(
            context: process.context, endpoints: settings.process.endpoints, curve: settings.curve, logger: process.logger)
        var readiness = ReadinessChecks()
        readiness.add("broker") { broker.isListening }
        return EdgeParts(resources: [broker], readiness: readiness)
    }

    /// The environment the broker reads: as the process's, except that the broker, the CURVE
    /// server, names no server key, and reading its own public key as one must not fail.
    public static func environment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var environment = environment
        if environment["BUS_CURVE_SERVER_KEY"] == nil, let own = environment["BUS_CURVE_PUBLIC_KEY"] {
            environment["BUS_CURVE_SERVER_KEY"] = own
        }
        return environment
    }
}
