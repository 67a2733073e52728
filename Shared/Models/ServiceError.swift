/// An error that travels the bus: a stable machine code, a human message and field errors.
///
/// The gateway maps `code` to an HTTP status in one table; messages never carry SQL, stack
/// traces or another person's data.
public struct ServiceError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var code: Code
    public var message: String
    public var fieldErrors: [FieldError]
    /// With `rateLimited`: how many seconds until the caller may try again (`Retry-After`).
    public var retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String, fieldErrors: [FieldError] = [], retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.fieldErrors = fieldErrors
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// A stable, snake_case error code. New codes are added as constants; decoding keeps unknown ones.
    public struct Code: RawRepresentable, Codable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The request is malformed (400).
        public static let badRequest = Code(rawValue: "bad_request")
        /// Field validation failed (422); see `fieldErrors`.
        public static let validationFailed = Code(rawValue: "validation_failed")
        /// No or bad credentials (401).
        public static let unauthenticated = Code(rawValue: "unauthenticated")
        /// Known to exist, not allowed (403).
        public static let forbidden = Code(rawValue: "forbidden")
        /// Unknown, or not allowed to know it exists (404).
        public static let notFound = Code(rawValue: "not_found")
        /// Conflicts with the current state (409).
        public static let conflict = Code(rawValue: "conflict")
        /// Too many requests (429).
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// No worker answered in time, or the service has none (503).
        public static let unavailable = Code(rawValue: "unavailable")
        /// The worker refused the request without running it, all its places for that kind of
        /// request being taken (503 with `Retry-After`); any call may be sent again.
        public static let busy = Code(rawValue: "busy")
        /// The caller's deadline passed before an answer (504).
        public static let timeout = Code(rawValue: "timeout")
        /// The worker has no handler for the operation (501).
        public static let unknownOperation = Code(rawValue: "unknown_operation")
        /// A fault inside the service; details are in its log, not here (500).
        public static let internalError = Code(rawValue: "internal_error")
    }
}

/// One field that failed validation: `{"field": "email", "code": "invalid"}`.
public struct FieldError: Codable, Sendable, Equatable {
    public var field: String
    public var code: String
    public init(field: String, code: String) {
        self.field = field
        self.code = code
    }
}
