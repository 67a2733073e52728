import Logging

/// One pool thread's connection: opened on first use, reopened after it was lost.
/// Confined to its thread, so it needs no lock.
final class ConnectionSlot {
    private let config: DatabaseConfig
    private let logger: Logger
    private var connection: Connection?

    init(config: DatabaseConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Runs `body` with the connection (opening it if needed), then tidies the session up.
    func perform<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try acquire()
        defer { release(connection) }
        return try body(connection)
    }

    /// The open connection, or a new one; throws `StoreError.connectionFailed` when none opens.
    private func acquire() throws -> Connection {
        if let connection { return connection }
        let opened = try Connection.open(config, logger: logger)
        connection = opened
        return opened
    }

    /// Drops a connection that was lost, so the next job reopens it; rolls back a transaction a
    /// body left open, so the next job starts in autocommit as promised.
    private func release(_ connection: Connection) {
        connection.transactionError = nil
        guard connection.isHealthy else {
            logger.info("store connection lost; the next job reopens it")
            connection.close()
            self.connection = nil
            return
        }
        if connection.isInTransaction {
            logger.info("store job left a transaction open; rolling it back")
            if (try? connection.executeScript("ROLLBACK")) == nil {
                connection.close()
                self.connection = nil
            }
        }
    }

    func close() {
        connection?.close()
        connection = nil
    }
}
