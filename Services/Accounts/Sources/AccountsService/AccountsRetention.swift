import Foundation
import ServiceKit
import Store

/// How long accounts keeps what has served its purpose (docs/data-map.md), enforced hourly by
/// every instance in batches, so no run holds locks for long.
enum AccountsRetention {
    /// Sessions are kept this long after they expired or were revoked (the person's list of
    /// sessions and their export show them until then).
    static let sessionsKept = "30 days"
    /// Sign-in history is kept this long (the person's sign-in history shows it until then).
    static let signInsKept = "90 days"
    static let batch = MaintenanceTask.batch

    static let tasks: [MaintenanceTask] = [
        // Attempt counters go soon after their window: they are consulted on every sign-in.
        MaintenanceTask(name: "accounts.prune-attempt-counters", interval: .seconds(60)) { database in
            try await pruneAttemptCounters(database)
        },
        MaintenanceTask(name: "accounts.prune-sessions", interval: .seconds(3600)) { database in
            try await pruneSessions(database)
        },
        MaintenanceTask(name: "accounts.prune-sign-ins", interval: .seconds(3600)) { database in
            try await pruneSignIns(database)
        },
        // What a provider vouched for and nobody used within its ten minutes.
        MaintenanceTask(name: "accounts.prune-social-tickets", interval: .seconds(300)) { database in
            try await deleteInBatches(
                database,
                """
                DELETE FROM social_tickets WHERE ticket_hash IN (
                    SELECT ticket_hash FROM social_tickets WHERE expires_at < now() LIMIT \(batch))
                """)
        },
    ]

    static func pruneSessions(_ database: Database) async throws -> Int {
        try await deleteInBatches(
            database,
            """
            DELETE FROM sessions WHERE token_hash IN (
                SELECT token_hash FROM sessions
                WHERE expires_at < now() - interval '\(sessionsKept)' OR revoked_at < now() - interval '\(sessionsKept)'
                LIMIT \(batch))
            """)
    }

    static func pruneAttemptCounters(_ database: Database) async throws -> Int {
        try await deleteInBatches(
            database,
            """
            DELETE FROM attempt_counters WHERE key IN (
                SELECT key FROM attempt_counters WHERE window_ends < now() - interval '1 minute' LIMIT \(batch))
            """)
    }

    static func pruneSignIns(_ database: Database) async throws -> Int {
        try await deleteInBatches(
            database,
            """
            DELETE FROM sign_in_attempts WHERE id IN (
                SELECT id FROM sign_in_attempts WHERE at < now() - interval '\(signInsKept)' LIMIT \(batch))
            """)
    }

    /// Runs `sql` (a bounded DELETE, constants only) until a run deletes less than a batch.
    private static func deleteInBatches(_ database: Database, _ sql: String) async throws -> Int {
        try await MaintenanceTask.deleteInBatches(database) { try $0.execute(sql) }
    }
}
