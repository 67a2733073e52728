import Foundation
import Logging
import ServiceKit
import Store
import Synchronization
import Testing
import TestSupport

@Suite("Maintenance")
struct MaintenanceTests {
    @Test("each task runs at its interval, a failing run is followed by the next, and cancelling stops them")
    func runsAndStops() async throws {
        try await withTestDatabase { testDatabase in
            let database = Database(testDatabase.config(poolSize: 1), logger: Logger(label: "test"))
            let runs = RunCount()
            let tasks = [
                MaintenanceTask(name: "test.count", interval: .milliseconds(20)) { database in
                    runs.add("count")
                    return try await database.withConnection { try $0.execute("SELECT 1") }
                },
                MaintenanceTask(name: "test.fail", interval: .milliseconds(20)) { _ in
                    runs.add("fail")
                    throw TestSupportError("this run fails")
                },
            ]
            let runner = Task { try await MaintenanceRunner(tasks: tasks, database: database, logger: Logger(label: "test")).run() }
            try await Eventually.wait(timeout: .seconds(10), "both tasks ran three times") {
                runs.count("count") >= 3 && runs.count("fail") >= 3
            }
            runner.cancel()
            try await runner.value
            let after = runs.count("count")
            try await Task.sleep(for: .milliseconds(100))
            #expect(runs.count("count") == after, "no run after cancellation")
            await database.close()
        }
    }
}

private final class RunCount: Sendable {
    private let runs = Mutex<[String: Int]>([:])
    func add(_ name: String) { runs.withLock { $0[name, default: 0] += 1 } }
    func count(_ name: String) -> Int { runs.withLock { $0[name, default: 0] } }
}
