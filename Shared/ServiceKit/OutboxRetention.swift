import Models
import Store

/// How long a service keeps the events it published (the outbox), beyond what every consumer has
/// acknowledged (`EventReplay`): the hourly `<service>.prune-outbox` task.
enum OutboxRetention {
    static func task(for service: ServiceName, keeping retention: Duration) -> MaintenanceTask {
        MaintenanceTask(name: "\(service.rawValue).prune-outbox", interval: .seconds(3600)) { database in
            try await prune(database, keeping: retention)
        }
    }

    /// Prunes in batches until a batch comes back short; returns how many events went.
    static func prune(_ database: Database, keeping retention: Duration) async throws -> Int {
        try await MaintenanceTask.deleteInBatches(database) {
            try Outbox.prune(olderThan: retention, limit: MaintenanceTask.batch, on: $0)
        }
    }
}
