import Foundation
import HTTPTypes
public import Hummingbird
public import Models

/// An RFC 9457 problem document, the body of every error answer.
public struct Problem: Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// A stable machine code front ends switch on: `email_taken`, `invalid_credentials`, …
    public var code: String
    public var requestId: String?
    /// Field validation failures, for 422.
    public var errors: [FieldError]?

    public init(status: HTTPResponse.Status, code: String, detail: String, errors: [FieldError]? = nil) {
        self.type = "about:blank"
        self.title = status.reasonPhrase
        self.status = status.code
        self.detail = detail
        self.code = code
        self.errors = errors?.isEmpty == false ? errors : nil
    }
}

/// The one table from a bus error code to an HTTP status.
public enum ProblemMapping {
    /// The HTTP status for `code`: the generic codes, the accounts and privacy codes of docs/api.md,
    /// every `…_invalid` field code as 422; an unknown code is the caller's fault (400).
    public static func status(for code: ServiceError.Code) -> HTTPResponse.Status {
        switch code.rawValue {
        case "bad_request", "malformed_json", "invalid_text": .badRequest
        case "validation_failed", "weak_password", "invalid_email", "policy_version_mismatch": .unprocessableContent
        case let raw where raw.hasSuffix("_invalid"): .unprocessableContent
        case "unauthenticated", "invalid_credentials": .unauthorized
        case "forbidden": .forbidden
        case "not_found": .notFound
        case "conflict", "email_taken", "partner_exists": .conflict
        case "rate_limited": .tooManyRequests
        case "unavailable", "export_unavailable", "busy": .serviceUnavailable
        case "timeout": .gatewayTimeout
        case "unknown_operation": .notImplemented
        case "internal_error": .internalServerError
        default: .badRequest
        }
    }

    /// The problem for any error a route threw; unknown errors become a bare 500.
    public static func problem(for error: any Error) -> Problem {
        switch error {
        case let error as ServiceError:
            return Problem(
                status: status(for: error.code), code: error.code.rawValue, detail: error.message,
                errors: error.fieldErrors)
        case let error as any HTTPResponseError:
            return Problem(status: error.status, code: code(for: error.status), detail: detail(for: error.status))
        case is DecodingError:
            return Problem(status: .badRequest, code: "malformed_json", detail: "The request body is not valid JSON of the expected shape.")
        default:
            return Problem(status: .internalServerError, code: "internal_error", detail: "Something went wrong on our side.")
        }
    }

    private static func code(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "not_found"
        case .contentTooLarge: "body_too_large"
        case .methodNotAllowed: "method_not_allowed"
        case .badRequest: "bad_request"
        case .unsupportedMediaType: "unsupported_media_type"
        default: status.code >= 500 ? "internal_error" : "bad_request"
        }
    }

    private static func detail(for status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "There is nothing at this path."
        case .contentTooLarge: "The request body is larger than 1 MiB."
        case .badRequest: "The request is malformed."
        default: status.reasonPhrase
        }
    }
}
