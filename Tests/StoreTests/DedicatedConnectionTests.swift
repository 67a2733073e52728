import Foundation
import Store
import TestSupport
import Testing

/// The long-lived connection the event relay uses for LISTEN and its leader lock.
@Suite struct DedicatedConnectionTests {
    /// Runs body with a dedicated connection and a pool on one fresh database.
    private func withDedicated(_ body: (DedicatedConnection, Database, TestDatabase) async throws -> Void) async throws {
        try await withDatabase { database, testDatabase in
            let dedicated = DedicatedConnection(testDatabase.config(), logger: testLogger)
            do {
                try await body(dedicated, database, testDatabase)
                await dedicated.close()
            } catch {
                await dedicated.close()
                throw error
            }
        }
    }

    @Test func aNotifyWakesTheWaiter() async throws {
        try await withDedicated { dedicated, database, _ in
            try await dedicated.run { try $0.executeScript("LISTEN jobs") }
            async let received = dedicated.waitForNotifications(timeout: .seconds(30))
            _ = try await database.withConnection { try $0.execute("SELECT pg_notify($1, $2)", "jobs", "ignored payload") }
            let channels = try await received
            #expect(channels == ["jobs"])
        }
    }

    @Test func aNotifyThatArrivedEarlierIsReturnedAtOnce() async throws {
        try await withDedicated { dedicated, database, _ in
            try await dedicated.run { try $0.executeScript("LISTEN jobs") }
            try await database.withConnection { try $0.executeScript("NOTIFY jobs") }
            // A statement on the dedicated connection reads the notification off the socket first.
            try await dedicated.run { _ = try $0.queryOne("SELECT pg_sleep(0.05)") }
            let channels = try await dedicated.waitForNotifications(timeout: .seconds(30))
            #expect(channels == ["jobs"])
        }
    }

    @Test func aTimeoutReturnsNothing() async throws {
        try await withDedicated { dedicated, _, _ in
            try await dedicated.run { try $0.executeScript("LISTEN quiet") }
            let channels = try await dedicated.waitForNotifications(timeout: .milliseconds(100))
            #expect(channels == [])
        }
    }

    @Test func cancellingEndsTheWait() async throws {
        try await withDedicated { dedicated, _, _ in
            try await dedicated.run { try $0.executeScript("LISTEN quiet") }
            let clock = ContinuousClock()
            let started = clock.now
            let waiter = Task { try await dedicated.waitForNotifications(timeout: .seconds(60)) }
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(clock.now - started < .seconds(30))
            // The connection is still usable afterwards.
            let row = try await dedicated.run { try $0.queryOne("SELECT 1") }
            #expect(row != nil)
        }
    }

    @Test func closingEndsTheWait() async throws {
        try await withDatabase { _, testDatabase in
            let dedicated = DedicatedConnection(testDatabase.config(), logger: testLogger)
            try await dedicated.run { try $0.executeScript("LISTEN quiet") }
            let clock = ContinuousClock()
            let started = clock.now
            let waiter = Task { try await dedicated.waitForNotifications(timeout: .seconds(60)) }
            await dedicated.close()
            let error = await #expect(throws: StoreError.self) { try await waiter.value }
            #expect(error == .poolClosed)
            #expect(clock.now - started < .seconds(30))
        }
    }

    @Test func sessionStatePersistsBetweenCalls() async throws {
        try await withDedicated { dedicated, database, _ in
            try await dedicated.run { _ = try $0.queryOne("SELECT pg_advisory_lock($1)", Int64(42)) }
            let held = try await dedicated.run { connection in
                try connection.queryOne(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 42 AND pid = pg_backend_pid()")!.decode(0, as: Int.self)
            }
            #expect(held == 1)
            let elsewhere = try await database.withConnection { try $0.queryOne("SELECT pg_try_advisory_lock($1)", Int64(42))!.decode(0, as: Bool.self) }
            #expect(elsewhere == false)
        }
    }

    @Test func aLostConnectionThrowsThenReconnects() async throws {
        try await withDedicated { dedicated, _, testDatabase in
            try await dedicated.run { try $0.executeScript("LISTEN jobs") }
            let pid = try await dedicated.run(backendPID)
            try await terminateBackend(pid, in: testDatabase)
            let error = await #expect(throws: StoreError.self) { try await dedicated.waitForNotifications(timeout: .seconds(30)) }
            #expect(error == .connectionLost)
            let newPID = try await dedicated.run(backendPID)
            #expect(newPID != pid)
        }
    }
}
