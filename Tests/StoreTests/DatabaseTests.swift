import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Models
import Synchronization
import Store
import TestSupport
import Testing

/// Errors, transactions and the pool, against a real server.
@Suite struct DatabaseTests {
    @Test("a statement past its timeout fails and frees the connection; migrations are not bound by it")
    func statementTimeoutAndKeepalives() async throws {
        try await withTestDatabase { testDatabase in
            var config = testDatabase.config(poolSize: 1)
            config.statementTimeout = .milliseconds(200)
            let database = Database(config, logger: testLogger)
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { _ = try $0.query("SELECT pg_sleep(5)") }
            }
            #expect(error?.sqlState == "57014", "canceled by statement_timeout")
            #expect(started.duration(to: clock.now) < .seconds(4))
            // The one connection is free again, with the timeout set.
            let settings = try await database.withConnection { connection in
                try connection.query("SELECT current_setting('statement_timeout') AS timeout").first?.decode("timeout", as: String.self)
            }
            #expect(settings == "200ms")
            try await database.migrate([Migration(version: 1, name: "slow", sql: "SELECT pg_sleep(0.4)")])
            await database.close()
        }
    }

    @Test("a statement is prepared once per session and reused, across a rollback and a change of its table")
    func statementsArePreparedOnce() async throws {
        try await withDatabase(poolSize: 1) { database, _ in
            try await database.withConnection { connection in
                try connection.executeScript("CREATE TABLE widgets (id int PRIMARY KEY, name text)")
                try connection.execute("INSERT INTO widgets VALUES (1, 'a'), (2, 'b')")
            }
            let prepared = "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = 'SELECT name FROM widgets WHERE id = $1'"
            for id in [1, 2, 1] {
                _ = try await database.withConnection { try $0.queryOne("SELECT name FROM widgets WHERE id = $1", id) }
            }
            #expect(try await database.withConnection { try $0.queryOne(prepared)?.decode("n", as: Int.self) } == 1)
            // A rolled-back transaction leaves the session's statements usable.
            await #expect(throws: StoreError.self) {
                try await database.transaction { connection in
                    _ = try connection.queryOne("SELECT name FROM widgets WHERE id = $1", 2)
                    try connection.execute("INSERT INTO widgets VALUES (1, 'again')")
                }
            }
            let name = try await database.withConnection { try $0.queryOne("SELECT name FROM widgets WHERE id = $1", 2)?.decode("name", as: String.self) }
            #expect(name == "b")
            // A column added under a prepared statement that reads all of them: one failure, then prepared afresh.
            _ = try await database.withConnection { try $0.query("SELECT * FROM widgets WHERE id > $1", 0) }
            try await database.withConnection { try $0.executeScript("ALTER TABLE widgets ADD COLUMN size int") }
            _ = try? await database.withConnection { try $0.query("SELECT * FROM widgets WHERE id > $1", 0) }
            let rows = try await database.withConnection { try $0.query("SELECT * FROM widgets WHERE id > $1", 0) }
            #expect(rows.count == 2)
            // The same in a transaction, for a statement older than others: no later statement is
            // given a name still in use.
            _ = try await database.withConnection { try $0.query("SELECT id FROM widgets WHERE id < $1", 9) }
            try await database.withConnection { try $0.executeScript("ALTER TABLE widgets ADD COLUMN colour text") }
            await #expect(throws: StoreError.self) {
                try await database.transaction { _ = try $0.query("SELECT * FROM widgets WHERE id > $1", 0) }
            }
            for sql in ["SELECT id, name FROM widgets WHERE id = $1", "SELECT name, id FROM widgets WHERE id = $1"] {
                let found = try await database.withConnection { try $0.query(sql, 1) }
                #expect(found.count == 1)
            }
        }
    }

    @Test("a task that prefers the pool runs on its threads, and its database work runs there without a hand-off")
    func thePoolIsAnExecutor() async throws {
        try await withDatabase(poolSize: 1) { database, _ in
            // Eight tasks on a pool of one thread, each querying twice: none waits on another for ever.
            let threads = try await withThrowingTaskGroup(of: [pthread_t].self) { group in
                for n in 0..<8 {
                    group.addTask {
                        try await withTaskExecutorPreference(database.executor) {
                            try await Task.sleep(for: .milliseconds(1))
                            let outside = pthread_self()
                            let inside = try await database.withConnection { _ in pthread_self() }
                            let value = try await database.withConnection { try $0.queryOne("SELECT $1::int AS n", n)?.decode("n", as: Int.self) }
                            #expect(value == n)
                            return [outside, inside]
                        }
                    }
                }
                return try await group.reduce(into: [pthread_t]()) { $0 += $1 }
            }
            // Each task ran its statement on the thread it was on: the pool's one thread.
            #expect(threads.count == 16)
            #expect(Set(threads).count == 1, "\(threads)")
        }
    }

    @Test func uniqueViolationIsMappedWithItsConstraint() async throws {
        try await withDatabase { database, _ in
            try await database.withConnection { connection in
                try connection.executeScript("CREATE TABLE users (email text CONSTRAINT users_email_key UNIQUE)")
                try connection.execute("INSERT INTO users VALUES ($1)", "ada@example.com")
            }
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.execute("INSERT INTO users VALUES ($1)", "ada@example.com") }
            }
            #expect(error == .uniqueViolation)
            #expect(error?.constraint == "users_email_key")
            #expect(error?.sqlState == "23505")
            #expect(error?.description.contains("ada@example.com") == false)
        }
    }

    @Test func foreignKeyAndCheckViolationsAreMapped() async throws {
        try await withDatabase { database, _ in
            try await database.withConnection { connection in
                try connection.executeScript("""
                    CREATE TABLE parents (id int PRIMARY KEY);
                    CREATE TABLE children (parent int CONSTRAINT children_parent_fkey REFERENCES parents, age int CONSTRAINT children_age_check CHECK (age >= 0));
                    """)
            }
            let foreignKey = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.execute("INSERT INTO children VALUES ($1, $2)", 7, 1) }
            }
            #expect(foreignKey == .foreignKeyViolation)
            #expect(foreignKey?.constraint == "children_parent_fkey")
            let check = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.execute("INSERT INTO children VALUES ($1, $2)", Int?.none, -1) }
            }
            #expect(check == .checkViolation)
            #expect(check?.constraint == "children_age_check")
            let syntax = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.execute("SELEC 1") }
            }
            #expect(syntax == .queryFailed)
            #expect(syntax?.sqlState == "42601")
        }
    }

    @Test func transactionCommitsWhatTheBodyDid() async throws {
        try await withDatabase { database, _ in
            try await database.withConnection { try $0.executeScript("CREATE TABLE items (name text)") }
            let inserted = try await database.transaction { connection in
                try connection.execute("INSERT INTO items VALUES ($1), ($2)", "a", "b")
            }
            #expect(inserted == 2)
            let count = try await database.withConnection { try $0.queryOne("SELECT count(*) AS n FROM items")!.decode("n", as: Int.self) }
            #expect(count == 2)
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() async throws {
        try await withDatabase { database, _ in
            try await database.withConnection { try $0.executeScript("CREATE TABLE items (name text)") }
            await #expect(throws: Deliberate.self) {
                try await database.transaction { connection in
                    try connection.execute("INSERT INTO items VALUES ($1)", "doomed")
                    throw Deliberate()
                }
            }
            let count = try await database.withConnection { try $0.queryOne("SELECT count(*) AS n FROM items")!.decode("n", as: Int.self) }
            #expect(count == 0)
        }
    }

    @Test func aSwallowedErrorStillFailsTheCommit() async throws {
        try await withDatabase { database, _ in
            try await database.withConnection { try $0.executeScript("CREATE TABLE items (name text UNIQUE)") }
            let error = await #expect(throws: StoreError.self) {
                try await database.transaction { connection in
                    try connection.execute("INSERT INTO items VALUES ($1)", "first")
                    _ = try? connection.execute("INSERT INTO items VALUES ($1)", "first")
                    _ = try? connection.execute("INSERT INTO items VALUES ($1)", "after the failure")
                }
            }
            #expect(error == .uniqueViolation)
            let count = try await database.withConnection { try $0.queryOne("SELECT count(*) AS n FROM items")!.decode("n", as: Int.self) }
            #expect(count == 0)
        }
    }

    @Test func serializableConflictSurfacesAsSerializationFailure() async throws {
        try await withDatabase { database, _ in
            try await twoDoctorsOnCall(database)
            // Write skew: each reads both rows, then each takes a different doctor off call.
            let firstRead = DispatchSemaphore(value: 0)
            let secondRead = DispatchSemaphore(value: 0)
            @Sendable func goOffCall(_ id: Int, signal: DispatchSemaphore, await other: DispatchSemaphore) async -> (any Error)? {
                do {
                    try await database.transaction(.serializable) { connection in
                        _ = try connection.queryOne("SELECT count(*) AS n FROM doctors WHERE on_call")
                        signal.signal()
                        _ = other.wait(timeout: .now() + 10)
                        try connection.execute("UPDATE doctors SET on_call = false WHERE id = $1", id)
                    }
                    return nil
                } catch {
                    return error
                }
            }
            async let first = goOffCall(1, signal: firstRead, await: secondRead)
            async let second = goOffCall(2, signal: secondRead, await: firstRead)
            let failures = await [first, second].compactMap { $0 }
            #expect(failures.count >= 1)
            for failure in failures {
                #expect((failure as? StoreError) == .serializationFailure, "\(failure)")
            }
        }
    }

    /// The table of the write-skew tests: two doctors, both on call.
    private func twoDoctorsOnCall(_ database: Database) async throws {
        try await database.withConnection { connection in
            try connection.executeScript("CREATE TABLE doctors (id int PRIMARY KEY, on_call bool NOT NULL); INSERT INTO doctors VALUES (1, true), (2, true)")
        }
    }

    @Test func aRetryingTransactionRunsAgainAfterLosingAConflict() async throws {
        try await withDatabase { database, _ in
            try await twoDoctorsOnCall(database)
            // The write skew above, where only the first run of each side waits for the other.
            let firstRead = DispatchSemaphore(value: 0)
            let secondRead = DispatchSemaphore(value: 0)
            /// Takes doctor `id` off call; returns how many times the body ran.
            @Sendable func goOffCall(_ id: Int, signal: DispatchSemaphore, await other: DispatchSemaphore) async throws -> Int {
                let runs = Atomic<Int>(0)
                try await database.retryingTransaction(.serializable) { connection in
                    let run = runs.add(1, ordering: .relaxed).newValue
                    _ = try connection.queryOne("SELECT count(*) AS n FROM doctors WHERE on_call")
                    if run == 1 {
                        signal.signal()
                        _ = other.wait(timeout: .now() + 10)
                    }
                    try connection.execute("UPDATE doctors SET on_call = false WHERE id = $1", id)
                }
                return runs.load(ordering: .relaxed)
            }
            async let first = goOffCall(1, signal: firstRead, await: secondRead)
            async let second = goOffCall(2, signal: secondRead, await: firstRead)
            let runs = try await first + second
            #expect(runs >= 3)
            let onCall = try await database.withConnection { try $0.queryOne("SELECT count(*) AS n FROM doctors WHERE on_call")!.decode("n", as: Int.self) }
            #expect(onCall == 0)
        }
    }

    @Test func aRetryingTransactionGivesUpAfterItsAttempts() async throws {
        try await withDatabase { database, _ in
            let runs = Atomic<Int>(0)
            let error = await #expect(throws: StoreError.self) {
                try await database.retryingTransaction(.repeatableRead, attempts: 3) { _ in
                    runs.add(1, ordering: .relaxed)
                    throw StoreError.serializationFailure
                }
            }
            #expect(error == .serializationFailure)
            #expect(runs.load(ordering: .relaxed) == 3)
            let other = await #expect(throws: StoreError.self) {
                try await database.retryingTransaction(.repeatableRead) { _ in
                    runs.add(1, ordering: .relaxed)
                    throw StoreError.uniqueViolation
                }
            }
            #expect(other == .uniqueViolation)
            #expect(runs.load(ordering: .relaxed) == 4)
        }
    }

    @Test func withConnectionRollsBackATransactionLeftOpen() async throws {
        try await withDatabase(poolSize: 1) { database, _ in
            try await database.withConnection { connection in
                try connection.executeScript("CREATE TABLE items (name text)")
                try connection.executeScript("BEGIN")
                try connection.execute("INSERT INTO items VALUES ($1)", "left open")
            }
            let count = try await database.withConnection { try $0.queryOne("SELECT count(*) AS n FROM items")!.decode("n", as: Int.self) }
            #expect(count == 0)
        }
    }

    private struct Run: Sendable {
        var pid: Int32
        var started: Date
        var ended: Date
    }

    @Test func thePoolRunsQueriesConcurrentlyOnEveryConnection() async throws {
        try await withDatabase(poolSize: 4) { database, _ in
            let runs = try await withThrowingTaskGroup(of: Run.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await database.withConnection { connection in
                            let started: Date = try connection.queryOne("SELECT clock_timestamp() AS t")!.decode("t")
                            try connection.execute("SELECT pg_sleep(0.25)")
                            let ended: Date = try connection.queryOne("SELECT clock_timestamp() AS t")!.decode("t")
                            return Run(pid: try backendPID(connection), started: started, ended: ended)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(runs.map(\.pid)).count == 4)
            // The most queries in flight at any one moment, as the server's clock saw them.
            let overlap = runs.map { run in runs.filter { $0.started <= run.started && run.started < $0.ended }.count }.max() ?? 0
            #expect(overlap >= 2)
            #expect(overlap <= 4)
        }
    }

    @Test func aLostConnectionThrowsOnceThenTheNextCallReconnects() async throws {
        try await withDatabase(poolSize: 1) { database, testDatabase in
            let pid = try await database.withConnection(backendPID)
            try await terminateBackend(pid, in: testDatabase)
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.queryOne("SELECT 1") }
            }
            #expect(error == .connectionLost)
            let newPID = try await database.withConnection(backendPID)
            #expect(newPID != pid)
        }
    }

    @Test func aBadPasswordGivesConnectionFailedWithoutThePassword() async throws {
        try await withTestDatabase { testDatabase in
            let password = "pw-\(UUID().uuidString)"
            let url = try testDatabase.url(user: "no_such_role_\(UUID().uuidString.prefix(8).lowercased())", password: password)
            let database = Database(DatabaseConfig(url: url, poolSize: 1), logger: testLogger)
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.queryOne("SELECT 1") }
            }
            await database.close()
            #expect(error == .connectionFailed)
            #expect(error?.description.contains(password) == false)
            #expect(error?.serverMessage?.contains(password) != true)
            #expect(error?.description.contains("no_such_role") == true, "the reason reaches the operator: \(String(describing: error))")
        }
    }

    @Test func aMalformedURLDoesNotEchoItsPassword() async throws {
        let database = Database(DatabaseConfig(url: "postgresql://user:hunter2-secret@127.0.0.1:notaport/db", poolSize: 1), logger: testLogger)
        let error = await #expect(throws: StoreError.self) {
            try await database.withConnection { try $0.queryOne("SELECT 1") }
        }
        await database.close()
        #expect(error == .connectionFailed)
        #expect(error?.description.contains("hunter2-secret") == false)
    }

    @Test func pingReportsReadiness() async throws {
        try await withDatabase { database, _ in
            #expect(await database.ping())
        }
        let unreachable = Database(DatabaseConfig(url: "postgresql://postgres@127.0.0.1:1/postgres", poolSize: 1), logger: testLogger)
        #expect(await unreachable.ping() == false)
        await unreachable.close()
    }

    @Test func aClosedPoolRefusesWork() async throws {
        try await withDatabase { database, _ in
            await database.close()
            let error = await #expect(throws: StoreError.self) {
                try await database.withConnection { try $0.queryOne("SELECT 1") }
            }
            #expect(error == .poolClosed)
        }
    }

    @Test("past its queue limit the pool refuses work at once, as a saturated pool that callers are told of")
    func aFullQueueRefusesWorkAtOnce() async throws {
        try await withTestDatabase { testDatabase in
            var config = testDatabase.config(poolSize: 1)
            config.maxQueuedJobs = 2
            let database = Database(config, logger: testLogger)
            let blocker = await OccupiedConnection(of: database)
            let queued = (0..<2).map { n in Task { try await database.withConnection { _ in n } } }
            try await waitUntil("two jobs queued") { database.queuedJobs == 2 }
            let refused = await #expect(throws: StoreError.self) {
                try await database.withConnection { _ in -1 }
            }
            #expect(refused == .poolSaturated)
            #expect(refused?.serviceError?.code == .unavailable)
            #expect(refused?.serviceError?.retryAfterSeconds == 1)
            try await blocker.release()
            // The queued work was not disturbed, and once the queue drains work is taken again.
            let answers = [try await queued[0].value, try await queued[1].value]
            #expect(answers == [0, 1])
            #expect(try await database.withConnection { _ in 7 } == 7)
            await database.close()
        }
    }

    @Test func aQueuedJobIsDroppedWhenItsTaskIsCancelled() async throws {
        try await withDatabase(poolSize: 1) { database, _ in
            let blocker = await OccupiedConnection(of: database)
            let ran = ManagedFlag()
            let queued = Task {
                try await database.withConnection { _ in ran.set() }
            }
            queued.cancel()
            let result = await queued.result
            try await blocker.release()
            #expect(throws: CancellationError.self) { try result.get() }
            // The pool's one thread is free again and the cancelled job never ran.
            let cancelledJobRan = try await database.withConnection { _ in ran.isSet }
            #expect(cancelledJobRan == false)
        }
    }
}

/// A job that holds a pool connection (the only one, in a pool of one) until released.
private struct OccupiedConnection {
    private let release = DispatchSemaphore(value: 0)
    private let job: Task<Void, any Error>

    /// Returns once the job holds its connection.
    init(of database: Database) async {
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        job = Task { [release] in
            try await database.withConnection { _ in
                startedContinuation.yield()
                _ = release.wait(timeout: .now() + 10)
            }
        }
        var iterator = started.makeAsyncIterator()
        await iterator.next()
    }

    /// Lets the job finish, and waits until it has.
    func release() async throws {
        release.signal()
        try await job.value
    }
}

/// A flag set on a pool thread and read from a test.
final class ManagedFlag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var isSet: Bool { state.withLock { $0 } }
}
