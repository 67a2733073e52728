public import Bus
public import Foundation
public import Logging
public import Prometheus
public import ServiceLifecycle

/// What every process of the platform reads from its environment: logging, the admin port, where
/// the bus is and which CURVE keys to use on it, and which instance this is.
public struct ProcessSettings: Sendable {
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    public var adminHost: String
    public var adminPort: Int
    public var endpoints: BusEndpoints
    /// This process's keys and the broker's public key; nil runs the bus in the clear, which
    /// takes `BUS_INSECURE=1` (local development only).
    public var curve: ClientCurve?
    public var instanceId: String
    /// How long the bus I/O thread spins before sleeping (`BusContext`).
    public var busSpin: Duration

    /// Reads the common settings, recording problems in `reader`.
    public init(reading reader: inout ConfigReader) {
        let level = reader.choice(
            "LOG_LEVEL", default: "info",
            from: ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        logLevel = Logger.Level(rawValue: level) ?? .info
        logFormat = LogFormat(rawValue: reader.choice("LOG_FORMAT", default: "text", from: ["text", "json"])) ?? .text
        adminHost = reader.string("ADMIN_HOST", default: "127.0.0.1")
        adminPort = reader.int("ADMIN_PORT", default: 0, in: 0...65535)
        endpoints = BusEndpoints(
            mdp: reader.endpoint("BROKER_ENDPOINT", default: "tcp://127.0.0.1:5555"),
            eventsIn: reader.endpoint("EVENTS_IN_ENDPOINT", default: "tcp://127.0.0.1:5556"),
            eventsOut: reader.endpoint("EVENTS_OUT_ENDPOINT", default: "tcp://127.0.0.1:5557"))
        busSpin = .microseconds(reader.int("BUS_SPIN_MICROSECONDS", default: 0, in: 0...10_000))
        instanceId = reader.raw("INSTANCE_ID") ?? UUID().uuidString.lowercased()
        if instanceId.contains("/") || instanceId.count > 64 {
            reader.problem("INSTANCE_ID must be at most 64 characters without '/'")
        }
        curve = nil
        let keyPair = Self.readKeyPair(&reader)
        let serverKey = reader.raw("BUS_CURVE_SERVER_KEY")
        switch (keyPair, serverKey) {
        case (nil, nil): break
        case (let pair?, let server?):
            if let valid = try? ClientCurve(keyPair: pair, serverPublicKey: server) {
                curve = valid
            } else {
                reader.problem("BUS_CURVE_SERVER_KEY must be a 40-character Z85 public key")
            }
        default:
            reader.problem("BUS_CURVE_PUBLIC_KEY, BUS_CURVE_SECRET_KEY and BUS_CURVE_SERVER_KEY go together: set all three or none")
        }
        // Running the bus in the clear must be said, never fallen into by a missing key.
        let insecure = reader.choice("BUS_INSECURE", default: "0", from: ["0", "1"]) == "1"
        if curve == nil && keyPair == nil && serverKey == nil && !insecure {
            reader.problem(
                "the bus needs CURVE keys (BUS_CURVE_PUBLIC_KEY, BUS_CURVE_SECRET_KEY, BUS_CURVE_SERVER_KEY); "
                    + "set BUS_INSECURE=1 to run it in the clear, for local development only")
        }
    }

    /// This process's own CURVE key pair, when both halves are set.
    static func readKeyPair(_ reader: inout ConfigReader) -> CurveKeyPair? {
        let publicKey = reader.raw("BUS_CURVE_PUBLIC_KEY")
        let secretKey = reader.raw("BUS_CURVE_SECRET_KEY")
        switch (publicKey, secretKey) {
        case (nil, nil): return nil
        case (let publicKey?, let secretKey?):
            do {
                return try CurveKeyPair(publicKey: publicKey, secretKey: secretKey)
            } catch {
                reader.problem("BUS_CURVE_PUBLIC_KEY and BUS_CURVE_SECRET_KEY must be a 40-character Z85 key pair")
                return nil
            }
        default:
            reader.problem("BUS_CURVE_PUBLIC_KEY and BUS_CURVE_SECRET_KEY go together")
            return nil
        }
    }

    /// Reads the whole configuration with `read`; nil after printing every problem at once to
    /// standard error (the executable then exits with status 2).
    public static func load<Settings>(
        _ processName: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        _ read: (inout ConfigReader) -> Settings
    ) -> Settings? {
        var reader = ConfigReader(environment: environment)
        let settings = read(&reader)
        do {
            try reader.validate()
        } catch {
            FileHandle.standardError.write(Data("\(processName): \(error)\n".utf8))
            return nil
        }
        return settings
    }
}

extension ProcessSettings {
    /// Starts the process's logging (every line carrying request and trace ids) and metrics, and
    /// returns its logger, labelled `advisor.<name>` with `service.instance` set, and the metrics
    /// registry its admin port serves. Warns when the bus runs in clear text.
    public func bootstrapObservability(processName: String) -> (logger: Logger, registry: PrometheusCollectorRegistry) {
        LoggingSetup.bootstrap(format: logFormat, level: logLevel)
        let registry = MetricsSetup.bootstrap()
        var logger = Logger(label: "advisor.\(processName)")
        logger[metadataKey: "service.instance"] = "\(instanceId)"
        if curve == nil {
            logger.warning("bus runs without CURVE: local development only")
        }
        return (logger, registry)
    }

    /// This process's bus context, as its settings configure it.
    public func busContext(logger: Logger) -> BusContext {
        BusContext(logger: logger, spinBeforeSleeping: busSpin)
    }
}

/// The bus side of a process that calls services but serves none (gateway, integration): its
/// context and client, and its readiness, which is the broker answering.
public struct BusCaller: Sendable {
    public let bus: BusClient
    private let client: MDPClient

    public init(context: BusContext, settings: ProcessSettings, logger: Logger) {
        client = MDPClient(context: context, endpoint: settings.endpoints.mdp, curve: settings.curve, logger: logger)
        bus = BusClient(mdp: client, logger: logger)
    }

    /// The client, as the lifecycle service that closes it (after the services that call).
    public var resource: any Service { client }

    /// `/readyz`: the broker answers (whatever it says about `mmi.service`).
    public var readiness: ReadinessChecks {
        var checks = ReadinessChecks()
        checks.add("broker") { [bus] in (try? await bus.hasWorkers("mmi.service")) != nil }
        return checks
    }
}
