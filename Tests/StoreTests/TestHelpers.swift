import Foundation
import Logging
import Store
import TestSupport

/// Store tests do not look at logs.
let testLogger = Logger(label: "store.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs body with a pool on a fresh test database; closes the pool and drops the database after.
func withDatabase<T>(
    schema: String? = nil, poolSize: Int = 2, isolation: isolated (any Actor)? = #isolation,
    _ body: (Database, TestDatabase) async throws -> T
) async throws -> T {
    try await withTestDatabase(schema: schema) { testDatabase in
        let database = Database(testDatabase.config(poolSize: poolSize), logger: testLogger)
        do {
            let value = try await body(database, testDatabase)
            await database.close()
            return value
        } catch {
            await database.close()
            throw error
        }
    }
}

/// Polls `condition` until it holds; throws if it still does not after `timeout`.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(10), isolation: isolated (any Actor)? = #isolation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting until \(what)" }
}

/// An error a test body throws on purpose.
struct Deliberate: Error, Equatable {}

/// The backend pid of the connection a job ran on.
func backendPID(_ connection: Connection) throws -> Int32 {
    try connection.queryOne("SELECT pg_backend_pid() AS pid")!.decode("pid")
}

/// Ends a backend from a separate admin pool and waits until it is gone.
func terminateBackend(_ pid: Int32, in testDatabase: TestDatabase) async throws {
    let admin = Database(testDatabase.config(poolSize: 1), logger: testLogger)
    do {
        _ = try await admin.withConnection { try $0.execute("SELECT pg_terminate_backend($1)", pid) }
        try await waitUntil("backend \(pid) has exited") {
            try await admin.withConnection {
                try $0.queryOne("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1", pid)!.decode("n", as: Int.self) == 0
            }
        }
        await admin.close()
    } catch {
        await admin.close()
        throw error
    }
}
