import Foundation
public import Logging
public import ServiceLifecycle
import UnixSignals

/// The life of every platform process after its settings are read: run its long-lived services
/// together until SIGTERM or SIGINT, let each finish its work, release what they used, exit 0; on an
/// error at start-up or while running, log it and exit 1.
public enum ProcessMain {
    /// Builds the services with `makeServices`, runs them (started in order, stopped in reverse
    /// order), then runs `cleanup` and exits the process.
    public static func serve(
        logger: Logger, makeServices: () async throws -> [any Service], cleanup: () async -> Void
    ) async -> Never {
        do {
            let services = try await makeServices()
            let group = ServiceGroup(
                configuration: .init(
                    services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
            try await group.run()
            await cleanup()
            logger.info("stopped")
            exit(0)
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
