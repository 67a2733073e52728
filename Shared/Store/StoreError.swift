public import Models

/// An error from the store: a stable code callers match on, plus what PostgreSQL said.
///
/// Equality compares the code only, so `catch let error as StoreError where error == .uniqueViolation`
/// works whatever the SQLSTATE details. The description never holds parameter values or the
/// server's message (which may quote values); `serverMessage` is there for operator logs.
public struct StoreError: Error, Sendable, CustomStringConvertible, Equatable, ServiceErrorConvertible {
    private enum Code: String, Sendable {
        case uniqueViolation, foreignKeyViolation, checkViolation, serializationFailure, deadlockDetected
        case connectionFailed, connectionLost, queryFailed, decodingFailed, poolClosed, poolSaturated
        case invalidMigration, migrationConflict
    }

    private var code: Code

    /// The five-character SQLSTATE the server reported, when it reported one.
    public var sqlState: String?
    /// The violated constraint's name (`PG_DIAG_CONSTRAINT_NAME`), when the server named one.
    public var constraint: String?
    /// The server's primary message. For operator logs only: it may quote values, so it never
    /// reaches the description or user-facing text.
    public var serverMessage: String?
    /// What the store was doing, in its own words (never values), e.g. which migration failed.
    public var context: String?

    private init(_ code: Code) {
        self.code = code
    }

    /// An insert or update broke a unique constraint (SQLSTATE 23505).
    public static let uniqueViolation = StoreError(.uniqueViolation)
    /// A row referenced a missing row, or a referenced row was removed (SQLSTATE 23503).
    public static let foreignKeyViolation = StoreError(.foreignKeyViolation)
    /// A CHECK constraint failed (SQLSTATE 23514).
    public static let checkViolation = StoreError(.checkViolation)
    /// A serializable or repeatable-read transaction lost a conflict (SQLSTATE 40001); retry it.
    public static let serializationFailure = StoreError(.serializationFailure)
    /// The server broke a deadlock by aborting this transaction (SQLSTATE 40P01); retry it.
    public static let deadlockDetected = StoreError(.deadlockDetected)
    /// No connection could be opened; the description carries libpq's reason, never the password.
    public static let connectionFailed = StoreError(.connectionFailed)
    /// The connection broke during the call; the next call opens a new one.
    public static let connectionLost = StoreError(.connectionLost)
    /// The server rejected a statement for any other reason; see `sqlState`.
    public static let queryFailed = StoreError(.queryFailed)
    /// A column was missing, NULL for a non-optional type, or not readable as the requested type.
    public static let decodingFailed = StoreError(.decodingFailed)
    /// The pool or dedicated connection was closed before the work could run.
    public static let poolClosed = StoreError(.poolClosed)
    /// As many jobs as the pool may queue already wait for a connection; the work did not run.
    public static let poolSaturated = StoreError(.poolSaturated)
    /// A migration file name or a list of migrations is malformed (bad name, duplicate version).
    public static let invalidMigration = StoreError(.invalidMigration)
    /// A version already applied is recorded under a different name: someone edited history.
    public static let migrationConflict = StoreError(.migrationConflict)

    /// What a bus caller is told when a handler lets this error through: the database out of reach
    /// or saturated is the service being unavailable for now (503, try again), not a fault in it.
    /// The work did not run in either case. Anything else stays an internal error.
    public var serviceError: ServiceError? {
        switch code {
        case .poolSaturated:
            ServiceError(.unavailable, "the service is overloaded; try again shortly", retryAfterSeconds: 1)
        case .connectionFailed:
            ServiceError(.unavailable, "the service cannot reach its database; try again shortly", retryAfterSeconds: 1)
        default: nil
        }
    }

    /// Compares codes only.
    public static func == (lhs: StoreError, rhs: StoreError) -> Bool {
        lhs.code == rhs.code
    }

    /// The code, SQLSTATE, constraint and context; never values, never the server's message.
    public var description: String {
        var text = "StoreError.\(code.rawValue)"
        var details: [String] = []
        if let sqlState { details.append("SQLSTATE \(sqlState)") }
        if let constraint { details.append("constraint \(constraint)") }
        if !details.isEmpty { text += " (\(details.joined(separator: ", ")))" }
        if let context { text += ": \(context)" }
        return text
    }

    /// A copy carrying the given context (the store's own words, never values).
    func with(context: String) -> StoreError {
        var copy = self
        copy.context = context
        return copy
    }

    /// The error for a server-reported failure, classified by SQLSTATE.
    static func server(sqlState: String?, constraint: String?, message: String?) -> StoreError {
        var error: StoreError
        switch sqlState {
        case "23505": error = .uniqueViolation
        case "23503": error = .foreignKeyViolation
        case "23514": error = .checkViolation
        case "40001": error = .serializationFailure
        case "40P01": error = .deadlockDetected
        default: error = .queryFailed
        }
        error.sqlState = sqlState
        error.constraint = constraint
        error.serverMessage = message
        return error
    }
}
