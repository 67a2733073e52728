/// An error that travels the bus: a stable machine code, a human message and field errors.
///
/// The gateway maps `code` to an HTTP status in one table, `ErrorCatalog`, built from the codes
/// declared here and beside each service's operations; messages never carry SQL, stack traces
/// or another person's data.
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

/// An error of a lower layer that knows what a service's caller should be told (a database out of
/// reach is `unavailable`, not a fault); `ServiceWorker` answers with `serviceError` when it is set.
public protocol ServiceErrorConvertible: Error {
    /// The error to answer with; nil when it is a fault (`internal_error`, details only logged).
    var serviceError: ServiceError? { get }
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

/// A declared error code and the HTTP status the gateway answers it with.
public struct DeclaredErrorCode: Sendable, Equatable {
    public let code: ServiceError.Code
    public let status: Int

    public init(_ code: ServiceError.Code, status: Int) {
        self.code = code
        self.status = status
    }
}

extension ServiceError.Code {
    /// The request body is not JSON, or not valid UTF-8 (400).
    public static let malformedJSON = ServiceError.Code(rawValue: "malformed_json")
    /// Text in the request holds a NUL character (400).
    public static let invalidText = ServiceError.Code(rawValue: "invalid_text")
    /// A request body that does not say it is JSON (`Content-Type: application/json`) (415).
    public static let unsupportedMediaType = ServiceError.Code(rawValue: "unsupported_media_type")
}

/// Every error code an answer may carry, with its HTTP status: the codes every service shares,
/// the request-level ones, and each service's own (declared beside its operations). A code that
/// is not here is a fault: the gateway answers it 500 and logs it.
public enum ErrorCatalog {
    /// The codes every service and the gateway share.
    public static let shared: [DeclaredErrorCode] = [
        .init(.badRequest, status: 400), .init(.malformedJSON, status: 400), .init(.invalidText, status: 400),
        .init(.unsupportedMediaType, status: 415), .init(.validationFailed, status: 422), .init(.unauthenticated, status: 401), .init(.forbidden, status: 403),
        .init(.notFound, status: 404), .init(.conflict, status: 409), .init(.rateLimited, status: 429),
        .init(.busy, status: 503), .init(.unavailable, status: 503), .init(.timeout, status: 504),
        .init(.unknownOperation, status: 501), .init(.internalError, status: 500),
    ]

    /// Every declared code.
    public static let all: [DeclaredErrorCode] = shared + Accounts.errorCodes + Privacy.errorCodes + Directory.errorCodes
        + Chat.errorCodes + Billing.errorCodes + Payments.errorCodes + Boards.errorCodes + SMS.errorCodes + Identity.errorCodes

    /// The HTTP status of each declared code, by its wire name.
    public static let statuses: [String: Int] = Dictionary(all.map { ($0.code.rawValue, $0.status) }) { first, _ in first }
}
