import CLibPQ
import Foundation
import Logging

/// One PostgreSQL session, lent to a `withConnection`, `transaction` or `run` body.
///
/// Only valid inside that body, on the thread that runs it: it is deliberately not `Sendable`.
/// Statements are prepared once per session (`PQprepare`) and then executed by name
/// (`PQexecPrepared`), so PostgreSQL parses and plans each one once rather than on every call;
/// parameters go as separate text values, never spliced into the SQL; results come back in
/// text format and are read with `Row.decode`.
public final class Connection {
    let handle: OpaquePointer
    /// Set when the session can no longer be trusted (lost, or left mid-COPY): the owner reopens it.
    private(set) var needsReset = false
    /// The first error of the current transaction, so a body that swallowed it still fails the commit.
    var transactionError: StoreError?
    /// The statements this session has prepared, by their SQL text; the name is `s<n>`.
    private var prepared: [String: String] = [:]
    /// The number of the next statement's name: never reused, even after a statement is dropped.
    private var nextStatement = 1
    /// Beyond this many, statements run unprepared: a session cannot hold statements without end
    /// (SQL texts are constants of the code, so a real service stays far below it).
    static let maxPreparedStatements = 512

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    // MARK: Statements

    /// Runs one statement with `$1, $2, …` parameters; returns the rows it affected (0 when none).
    @discardableResult
    public func execute(_ sql: String, _ parameters: any SQLEncodable...) throws -> Int {
        try execute(sql, parameters: parameters)
    }

    /// Lifts the statement timeout for the rest of the current transaction, for work that may
    /// rightly take long (migrations, a one-off rewrite of a table, a read of a whole log).
    public func liftStatementTimeout() throws {
        try execute("SET LOCAL statement_timeout TO 0")
    }

    /// Runs one statement with parameters given as an array; returns the rows it affected.
    @discardableResult
    public func execute(_ sql: String, parameters: [any SQLEncodable]) throws -> Int {
        try perform(sql, parameters) { result in
            Int(String(cString: PQcmdTuples(result))) ?? 0
        }
    }

    /// Runs one statement with `$1, $2, …` parameters and returns every row.
    public func query(_ sql: String, _ parameters: any SQLEncodable...) throws -> [Row] {
        try query(sql, parameters: parameters)
    }

    /// Runs one statement with parameters given as an array and returns every row.
    public func query(_ sql: String, parameters: [any SQLEncodable]) throws -> [Row] {
        try perform(sql, parameters, Self.rows)
    }

    /// Runs one statement planned for these very parameters, never prepared: for a statement whose
    /// best plan depends on its values (a search whose words match ten rows or ten thousand), where
    /// the generic plan PostgreSQL settles on for a prepared statement after five runs can be far
    /// slower than planning afresh.
    public func queryPlannedEachTime(_ sql: String, parameters: [any SQLEncodable]) throws -> [Row] {
        try perform(sql, parameters, prepare: false, Self.rows)
    }

    /// Runs one statement and returns its first row, or nil when it returned none.
    public func queryOne(_ sql: String, _ parameters: any SQLEncodable...) throws -> Row? {
        try queryOne(sql, parameters: parameters)
    }

    /// Runs one statement with parameters given as an array and returns its first row, or nil.
    public func queryOne(_ sql: String, parameters: [any SQLEncodable]) throws -> Row? {
        try query(sql, parameters: parameters).first
    }

    /// Runs SQL that may hold several statements and takes no parameters (the simple protocol,
    /// `PQexec`), e.g. a migration body or `LISTEN channel`. Never put values in it.
    public func executeScript(_ sql: String) throws {
        let result = PQexec(handle, sql)
        try consume(result) { _ in }
    }

    // MARK: State

    /// Whether the session is open and trusted.
    var isHealthy: Bool { !needsReset && PQstatus(handle) == CONNECTION_OK }

    /// Whether a transaction is open (idle in it, or failed in it).
    var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Whether a statement failed in the open transaction, so only ROLLBACK is accepted.
    var isInFailedTransaction: Bool { PQtransactionStatus(handle) == PQTRANS_INERROR }

    /// Throws unless a transaction is open: for work whose locks must last until commit.
    func requireTransaction(_ operation: String) throws {
        guard isInTransaction else {
            throw StoreError.queryFailed.with(context: "\(operation) must run inside a transaction")
        }
    }

    /// Marks the session lost, so its owner reopens it, and returns the error to throw.
    func markLost() -> StoreError {
        needsReset = true
        var error = StoreError.connectionLost.with(context: "the server closed the connection")
        error.serverMessage = Self.message(PQerrorMessage(handle))
        return error
    }

    func close() {
        PQfinish(handle)
    }

    // MARK: Results

    private func perform<T>(
        _ sql: String, _ parameters: [any SQLEncodable], prepare: Bool = true, _ read: (OpaquePointer) throws -> T
    ) throws -> T {
        let texts = parameters.map(\.sqlText)
        if let position = texts.firstIndex(where: { $0?.utf8.contains(0) ?? false }) {
            throw StoreError.queryFailed.with(context: "parameter $\(position + 1) holds a NUL character, which PostgreSQL text cannot store")
        }
        // One buffer of NUL-terminated values, and pointers into it: nothing to free afterwards.
        var buffer: [CChar] = []
        var offsets: [Int?] = []
        for text in texts {
            guard let text else {
                offsets.append(nil)
                continue
            }
            offsets.append(buffer.count)
            buffer.append(contentsOf: text.utf8.map { CChar(bitPattern: $0) })
            buffer.append(0)
        }
        let statement = prepare ? try preparedName(for: sql, parameterCount: texts.count) : nil
        let result = buffer.withUnsafeBufferPointer { storage in
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in offset.map { storage.baseAddress! + $0 } }
            return pointers.withUnsafeBufferPointer { values in
                if let statement {
                    PQexecPrepared(handle, statement, Int32(texts.count), values.baseAddress, nil, nil, 0)
                } else {
                    PQexecParams(handle, sql, Int32(texts.count), nil, values.baseAddress, nil, nil, 0)
                }
            }
        }
        do {
            return try consume(result, read)
        } catch let error as StoreError where error.sqlState == "0A000" {
            // "cached plan must not change result type": the table changed under the statement
            // (a migration by a newer instance). Prepare it afresh, under a new name, next time;
            // the old one is released now if the session allows (not in a failed transaction).
            if let statement {
                prepared[sql] = nil
                _ = try? executeScript("DEALLOCATE \(statement)")
            }
            throw error
        }
    }

    /// The name `sql` is prepared under in this session, preparing it first if need be; nil once
    /// the session holds as many statements as it may. A prepared statement outlives a rolled-back
    /// transaction. (Scripts — migrations, `BEGIN`, `LOCK` — go through `executeScript` instead.)
    private func preparedName(for sql: String, parameterCount: Int) throws -> String? {
        if let name = prepared[sql] { return name }
        guard prepared.count < Self.maxPreparedStatements else { return nil }
        let name = "s\(nextStatement)"
        nextStatement += 1
        try consume(PQprepare(handle, name, sql, Int32(parameterCount), nil)) { _ in }
        prepared[sql] = name
        return name
    }

    private func consume<T>(_ result: OpaquePointer?, _ read: (OpaquePointer) throws -> T) throws -> T {
        defer { PQclear(result) }
        guard let result else {
            throw record(failure(result: nil))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return try read(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // The session is now mid-COPY and would reject the next statement: start afresh.
            needsReset = true
            throw StoreError.queryFailed.with(context: "COPY is not supported by this client")
        default:
            throw record(failure(result: result))
        }
    }

    private func record(_ error: StoreError) -> StoreError {
        // After the first failure PostgreSQL answers 25P02 to everything; the first one is the cause.
        if transactionError == nil, error.sqlState != "25P02" {
            transactionError = error
        }
        return error
    }

    private func failure(result: OpaquePointer?) -> StoreError {
        let sqlState = field(result, "C")
        let message = field(result, "M") ?? Self.message(PQerrorMessage(handle))
        guard PQstatus(handle) == CONNECTION_OK else {
            needsReset = true
            var error = StoreError.connectionLost.with(context: "the server closed the connection")
            error.sqlState = sqlState
            error.serverMessage = message
            return error
        }
        return .server(sqlState: sqlState, constraint: field(result, "n"), message: message)
    }

    /// One field of the error report (`PG_DIAG_*` are character codes, which Swift does not import).
    private func field(_ result: OpaquePointer?, _ code: Unicode.Scalar) -> String? {
        guard let result, let value = PQresultErrorField(result, Int32(code.value)) else { return nil }
        return String(cString: value)
    }

    private static func rows(_ result: OpaquePointer) -> [Row] {
        let rowCount = PQntuples(result)
        let fieldCount = PQnfields(result)
        let layout = Row.Layout(columns: (0..<fieldCount).map { String(cString: PQfname(result, $0)) })
        return (0..<rowCount).map { row in
            Row(
                layout: layout,
                values: (0..<fieldCount).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
        }
    }

    /// libpq's message text, trimmed and on one line.
    static func message(_ text: UnsafePointer<CChar>?) -> String? {
        guard let text else { return nil }
        let lines = String(cString: text).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let joined = lines.filter { !$0.isEmpty }.joined(separator: "; ")
        return joined.isEmpty ? nil : joined
    }
}

// MARK: - Opening

extension Connection {
    /// Opens a session and pins what decoding relies on: ISO dates in UTC, hex bytea, UTF-8;
    /// then the configured schema as search path. Blocks: call it on a store thread only.
    static func open(_ config: DatabaseConfig, logger: Logger) throws -> Connection {
        // Later entries override earlier ones: the URL may override the timeout and the keepalives,
        // not the encoding. TCP keepalives find a half-open connection within about a minute, so
        // it cannot hold a pool thread or the relay's leader lock for ever.
        var parameters: [(String, String)] = [
            ("connect_timeout", "10"), ("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"),
            ("keepalives_count", "3"), ("dbname", config.url), ("client_encoding", "UTF8"),
        ]
        if let applicationName = config.applicationName {
            parameters.append(("application_name", applicationName))
        }
        let keywords = parameters.map { strdup($0.0) } + [nil]
        let values = parameters.map { strdup($0.1) } + [nil]
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let handle = keywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { keywordPointers in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { valuePointers in
                PQconnectdbParams(keywordPointers.baseAddress, valuePointers.baseAddress, 1)
            }
        }
        guard let handle else {
            throw StoreError.connectionFailed.with(context: "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = redacted(message(PQerrorMessage(handle)) ?? "unknown reason", url: config.url)
            PQfinish(handle)
            throw StoreError.connectionFailed.with(context: reason)
        }
        let connection = Connection(handle: handle)
        // Zero turns the limit off, as PostgreSQL's own 0 does.
        let (seconds, attoseconds) = config.statementTimeout.components
        let timeout = max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        // Notices (a migration's "already exists, skipping") would go to standard error unasked.
        // No parallel plans: a service answers many small requests at once, and a parallel plan
        // starts worker processes for one query (milliseconds each) and takes cores from the rest.
        var setup = "SET DateStyle TO ISO; SET bytea_output TO hex; SET TimeZone TO 'UTC'; SET statement_timeout TO \(timeout); "
            + "SET client_min_messages TO warning; SET max_parallel_workers_per_gather TO 0"
        if let schema = config.schema {
            setup += "; SET search_path TO \(quoteIdentifier(schema))"
        }
        do {
            try connection.executeScript(setup)
        } catch {
            connection.close()
            throw StoreError.connectionFailed.with(context: "session setup failed: \(error)")
        }
        logger.debug("store connection opened", metadata: ["db.backend_pid": "\(PQbackendPID(handle))"])
        return connection
    }

    /// libpq's reason with the password removed; when the URL itself cannot be parsed, only a
    /// generic reason, since libpq may echo the malformed part, password included.
    private static func redacted(_ reason: String, url: String) -> String {
        var parseError: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &parseError) else {
            PQfreemem(parseError)
            return "the connection URL is malformed"
        }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                let password = String(cString: value)
                return password.isEmpty ? reason : reason.replacingOccurrences(of: password, with: "********")
            }
            option += 1
        }
        return reason
    }
}

/// `name` as a quoted SQL identifier, embedded quotes doubled.
func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
