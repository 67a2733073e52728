public import Bus
public import Foundation
public import Logging
public import ServiceLifecycle

/// What an edge process (broker, gateway, integration) is: its name, its settings, and the
/// services it runs on its bus context.
///
/// Its executable is `exit(await EdgeServiceMain.run(definition))`; settings, logging, metrics,
/// the bus context, the admin port and the process's life are the same for all three and live here.
public struct EdgeServiceDefinition<Settings: Sendable>: Sendable {
    /// Names the process in logs, metrics and configuration errors.
    public var name: String
    /// Reads the process's settings, recording every problem in the reader.
    public var read: @Sendable (inout ConfigReader) -> Settings
    /// The settings every process has, within `Settings`.
    public var process: @Sendable (Settings) -> ProcessSettings
    /// Builds the process's own parts on its bus context.
    public var build: @Sendable (Settings, EdgeProcess) throws -> EdgeParts

    public init(
        name: String, read: @escaping @Sendable (inout ConfigReader) -> Settings,
        process: @escaping @Sendable (Settings) -> ProcessSettings,
        build: @escaping @Sendable (Settings, EdgeProcess) throws -> EdgeParts
    ) {
        self.name = name
        self.read = read
        self.process = process
        self.build = build
    }
}

/// What an edge process's parts are built with.
public struct EdgeProcess: Sendable {
    public let settings: ProcessSettings
    /// The process's logger, with `service.instance` set.
    public let logger: Logger
    /// The process's bus context (a resource `EdgeServiceMain` runs first and stops last).
    public let context: BusContext
}

/// An edge process's own parts: resources that run before its services and stop after them (bus
/// clients, the broker, a database), its services, what its `/readyz` checks, and what must be
/// done once the resources run and before any service starts (the integration service's migrations).
public struct EdgeParts: Sendable {
    public var resources: [any Service]
    public var services: [any Service]
    public var readiness: ReadinessChecks
    public var prepare: (@Sendable () async throws -> Void)?

    public init(
        resources: [any Service] = [], services: [any Service] = [], readiness: ReadinessChecks,
        prepare: (@Sendable () async throws -> Void)? = nil
    ) {
        self.resources = resources
        self.services = services
        self.readiness = readiness
        self.prepare = prepare
    }
}

/// Runs an edge process from its definition.
public enum EdgeServiceMain {
    /// Reads the settings (every problem named at once: status 2), then serves until SIGTERM or
    /// SIGINT (status 0) or an error (status 1, logged); returns the exit status.
    public static func run<Settings>(
        _ definition: EdgeServiceDefinition<Settings>,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> Int32 {
        guard let settings = ProcessSettings.load(definition.name, environment: environment, definition.read) else {
            return 2
        }
        let process = definition.process(settings)
        let (logger, registry) = process.bootstrapObservability(processName: definition.name)
        let context = process.busContext(logger: logger)
        let parts: EdgeParts
        do {
            parts = try definition.build(settings, EdgeProcess(settings: process, logger: logger, context: context))
        } catch {
            logger.critical("could not start", metadata: ["error": "\(error)"])
            await context.shutdown()
            return 1
        }
        let admin = AdminServer.build(
            host: process.adminHost, port: process.adminPort, readiness: parts.readiness, registry: registry,
            processName: definition.name, logger: logger)
        return await ProcessMain.run(logger: logger, resources: [context] + parts.resources) {
            try await parts.prepare?()
            return [admin] + parts.services
        }
    }
}
