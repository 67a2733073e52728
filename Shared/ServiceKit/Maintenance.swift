public import Logging
import Metrics
public import ServiceLifecycle
public import Store

/// A periodic clean-up of a service's own data (retention). Every instance runs it, so it must be
/// safe to run at the same time as itself and again at once: a bounded `DELETE … WHERE` is.
public struct MaintenanceTask: Sendable {
    /// Names the task in logs and metrics, e.g. `accounts.prune-sessions`.
    public var name: String
    /// How long between two runs (the first run comes one interval after start-up).
    public var interval: Duration
    /// Does one run; returns how many rows it changed.
    public var run: @Sendable (Database) async throws -> Int

    public init(name: String, interval: Duration, run: @escaping @Sendable (Database) async throws -> Int) {
        self.name = name
        self.interval = interval
        self.run = run
    }
}

extension MaintenanceTask {
    /// The most rows one statement of a clean-up deletes: few enough that no run holds locks long.
    public static let batch = 1000

    /// Runs `deleteBatch` (one bounded DELETE of at most `batch` rows, returning how many it
    /// deleted) until a run deletes fewer; returns the total.
    public static func deleteInBatches(
        _ database: Database, _ deleteBatch: @escaping @Sendable (Connection) throws -> Int
    ) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await database.withConnection(deleteBatch)
            total += deleted
            if deleted < batch { return total }
        }
    }
}

/// Runs a service's maintenance tasks at their intervals until graceful shutdown or cancellation.
/// A run that fails is logged and counted (`maintenance_runs_total{task,outcome}`), and the task
/// runs again at its next interval.
public struct MaintenanceRunner: Service {
    let tasks: [MaintenanceTask]
    let database: Database
    let logger: Logger

    public init(tasks: [MaintenanceTask], database: Database, logger: Logger) {
        self.tasks = tasks
        self.database = database
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for task in tasks {
                    group.addTask { await loop(task) }
                }
            }
        }
    }

    private func loop(_ task: MaintenanceTask) async {
        let succeeded = Counter(label: "maintenance_runs_total", dimensions: [("task", task.name), ("outcome", "ok")])
        let failed = Counter(label: "maintenance_runs_total", dimensions: [("task", task.name), ("outcome", "failed")])
        while true {
            do {
                try await Task.sleep(for: task.interval)
            } catch {
                return
            }
            do {
                let changed = try await task.run(database)
                succeeded.increment()
                if changed > 0 {
                    logger.info("maintenance ran", metadata: ["maintenance.task": "\(task.name)", "maintenance.rows": "\(changed)"])
                }
            } catch {
                failed.increment()
                logger.warning(
                    "maintenance failed", metadata: ["maintenance.task": "\(task.name)", "maintenance.error": "\(error)"])
            }
        }
    }
}
