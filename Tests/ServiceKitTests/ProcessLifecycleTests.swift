import Bus
import Foundation
import Logging
import ServiceKit
import ServiceLifecycle
import Store
import Synchronization
import Testing
import TestSupport

/// A process's life (`ProcessMain`): its resources outlive its services, and are closed whatever
/// ends the process.
@Suite("Process lifecycle")
struct ProcessLifecycleTests {
    @Test("a start-up error ends the process with status 1, and its database pool and bus context are still closed")
    func startUpErrorClosesResources() async throws {
        try await withTestDatabase { testDatabase in
            let logger = Logger(label: "test")
            let database = Database(testDatabase.config(poolSize: 1), logger: logger)
            let context = BusContext(logger: logger)
            let client = MDPClient(context: context, endpoint: "tcp://127.0.0.1:9", curve: nil, logger: logger)
            let status = await ProcessMain.run(logger: logger, resources: [context, database, client], signals: []) {
                // The database answered (the pool was open) before start-up failed.
                _ = try await database.withConnection { try $0.execute("SELECT 1") }
                throw TestSupportError("a migration failed")
            }
            #expect(status == 1)
            await #expect(throws: StoreError.poolClosed) {
                try await database.withConnection { try $0.execute("SELECT 1") }
            }
            await #expect(throws: BusError.closed) {
                try await client.request(service: "anyone", body: [Data()], timeout: .seconds(1))
            }
        }
    }

    @Test("when a service fails, the other services stop first, then the resources, in reverse order")
    func servicesStopBeforeResources() async throws {
        let journal = Journal()
        let status = await ProcessMain.run(
            logger: Logger(label: "test"), resources: [Recorder("context", journal), Recorder("database", journal)],
            signals: []
        ) {
            [Recorder("admin", journal), Recorder("worker", journal), Failing(after: .milliseconds(50))]
        }
        #expect(status == 1)
        #expect(journal.entries == ["worker stopped", "admin stopped", "database stopped", "context stopped"])
    }
}

private final class Journal: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var entries: [String] { lines.withLock { $0 } }
}

/// Runs until graceful shutdown, then records that it stopped.
private struct Recorder: Service {
    let name: String
    let journal: Journal
    init(_ name: String, _ journal: Journal) {
        self.name = name
        self.journal = journal
    }
    func run() async throws {
        try? await gracefulShutdown()
        journal.add("\(name) stopped")
    }
}

private struct Failing: Service {
    let after: Duration
    func run() async throws {
        try await Task.sleep(for: after)
        throw TestSupportError("the service failed")
    }
}
