public import Logging
public import ServiceLifecycle
public import UnixSignals

/// The life of every platform process after its settings are read, as one service group: the
/// process's resources (bus context, database pool, bus clients) run first, then its services are
/// built (migrations, handlers) and run beside them. SIGTERM or SIGINT, or an error anywhere —
/// at start-up or while serving — stops everything in reverse order: the services first, each
/// finishing its work, the resources after them. Nothing here exits the process: the executable
/// does, with the status this returns.
public enum ProcessMain {
    /// Runs `resources`, then the services `serve` builds, until one of `signals` or an error;
    /// returns the process's exit status: 0 after a signal stopped it, 1 after an error (logged).
    public static func run(
        logger: Logger, resources: [any Service], signals: [UnixSignal] = [.sigterm, .sigint],
        serve: @escaping @Sendable () async throws -> [any Service]
    ) async -> Int32 {
        let group = ServiceGroup(
            configuration: .init(
                services: (resources + [Serving(build: serve, logger: logger)]).map(stoppingTheGroup),
                gracefulShutdownSignals: signals, logger: logger))
        do {
            try await group.run()
            logger.info("stopped")
            return 0
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            return 1
        }
    }

    /// Any service that ends, by returning or throwing, stops the whole group gracefully (in
    /// reverse order), rather than cancelling everything at once.
    static func stoppingTheGroup(_ service: any Service) -> ServiceGroupConfiguration.ServiceConfiguration {
        .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
    }

    /// Builds the process's services once its resources run, and runs them as a group of their
    /// own, which stops (in reverse order) when the process's group stops it.
    struct Serving: Service {
        let build: @Sendable () async throws -> [any Service]
        let logger: Logger

        func run() async throws {
            let services = try await build()
            try await ServiceGroup(configuration: .init(services: services.map(stoppingTheGroup), logger: logger)).run()
        }
    }
}
