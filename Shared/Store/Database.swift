public import Logging

/// A pool of PostgreSQL connections, each owned by one thread of its own.
///
/// Nothing connects until the first call; a lost connection is reopened on its thread's next job.
/// Bodies run on the pool's threads, never on Swift's cooperative pool, so blocking there is fine.
public final class Database: Sendable {
    /// The configuration the pool connects with.
    public let config: DatabaseConfig
    let logger: Logger
    private let pool: ConnectionPool

    /// A pool for `config`; connections open lazily, one per thread, up to `config.poolSize`.
    public init(_ config: DatabaseConfig, logger: Logger) {
        self.config = config
        var logger = logger
        if let schema = config.schema { logger[metadataKey: "db.schema"] = "\(schema)" }
        self.logger = logger
        self.pool = ConnectionPool(config: config, size: config.poolSize, threadName: "store-pool", logger: logger)
    }

    deinit {
        pool.shutdown()
    }

    /// Runs body on one pooled connection (autocommit), on the pool's own thread.
    ///
    /// A transaction the body leaves open is rolled back afterwards. Throws `StoreError.poolClosed`
    /// after `close()`, `StoreError.poolSaturated` when `config.maxQueuedJobs` jobs already wait,
    /// `CancellationError` if the task is cancelled while the job is still queued.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await pool.run(body)
    }

    /// BEGIN … COMMIT around body; ROLLBACK if it throws (error rethrown).
    ///
    /// If a statement failed inside body and body carried on regardless, the commit throws that
    /// first error instead of letting PostgreSQL turn the COMMIT into a silent rollback.
    /// `serializationFailure` and `deadlockDetected` mean "retry the whole transaction"; that
    /// decision is the caller's (`retryingTransaction` makes it).
    public func transaction<T: Sendable>(
        _ isolation: IsolationLevel = .readCommitted, _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        try await pool.run { connection in
            connection.transactionError = nil
            try connection.executeScript("BEGIN ISOLATION LEVEL \(isolation.sql)")
            let value: T
            do {
                value = try body(connection)
            } catch {
                if connection.isHealthy { try? connection.executeScript("ROLLBACK") }
                throw error
            }
            if connection.isInFailedTransaction {
                let cause = connection.transactionError ?? StoreError.queryFailed.with(context: "the transaction had failed")
                try? connection.executeScript("ROLLBACK")
                throw cause
            }
            try connection.executeScript("COMMIT")
            return value
        }
    }

    /// `transaction`, run again while it fails with `serializationFailure` or `deadlockDetected`,
    /// up to `attempts` runs in all, after a short random pause that grows with each attempt.
    ///
    /// Only for bodies that may run more than once: each failed run was rolled back whole, but
    /// anything the body did outside the database happens again.
    public func retryingTransaction<T: Sendable>(
        _ isolation: IsolationLevel, attempts: Int = 5, _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await transaction(isolation, body)
            } catch let error as StoreError where error == .serializationFailure || error == .deadlockDetected {
                guard attempt < attempts else { throw error }
                logger.debug("transaction lost a conflict; running it again", metadata: ["db.attempt": "\(attempt)"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...5) * attempt))
                attempt += 1
            }
        }
    }

    /// An executor that runs tasks on the pool's own threads (`withTaskExecutorPreference`): their
    /// database work then runs on the thread they are on, with its connection, without a hand-off.
    /// For tasks whose work is mostly database work (a bus worker's handlers); blocking there is
    /// allowed, as it is not on Swift's cooperative pool.
    public var executor: any TaskExecutor { pool }

    /// Makes the calling thread one of this database's until `releaseCurrentThread()`, with a
    /// connection of its own (opened on first use, beyond `config.poolSize`): work it runs here
    /// then runs on that thread, without a hand-off. Only for threads where blocking is allowed
    /// (a bus worker's own threads, `WorkerThreads`), never for Swift's cooperative pool.
    public func adoptCurrentThread() {
        pool.adoptCurrentThread()
    }

    /// Closes the calling thread's own connection (see `adoptCurrentThread()`).
    public func releaseCurrentThread() {
        pool.releaseCurrentThread()
    }

    /// How many jobs wait for a connection now (at most `config.maxQueuedJobs`).
    public var queuedJobs: Int { pool.queuedJobs }

    /// Whether `SELECT 1` works: the readiness check. Never throws.
    public func ping() async -> Bool {
        do {
            return try await withConnection { try $0.queryOne("SELECT 1") != nil }
        } catch {
            logger.debug("store ping failed", metadata: ["db.error": "\(error)"])
            return false
        }
    }

    /// Stops the threads and closes every connection; jobs already queued still run, new ones
    /// throw `StoreError.poolClosed`.
    public func close() async {
        await pool.close()
    }
}

/// A transaction's isolation level.
public enum IsolationLevel: Sendable {
    /// Each statement sees what was committed before it started; PostgreSQL's default.
    case readCommitted
    /// The whole transaction sees one snapshot; conflicting writes raise `serializationFailure`.
    case repeatableRead
    /// As if transactions ran one at a time; anomalies raise `serializationFailure`.
    case serializable

    var sql: String {
        switch self {
        case .readCommitted: "READ COMMITTED"
        case .repeatableRead: "REPEATABLE READ"
        case .serializable: "SERIALIZABLE"
        }
    }
}
