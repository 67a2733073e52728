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
    /// The HTTP status for `code`, from `ErrorCatalog` (the codes declared in Models); an
    /// undeclared code is a fault of ours, answered 500 (and logged by the problem middleware).
    public static func status(for code: ServiceError.Code) -> HTTPResponse.Status {
        ErrorCatalog.statuses[code.rawValue].map(standard(code:)) ?? .internalServerError
    }

    /// The status with its standard reason phrase, which becomes the problem's `title`
    /// (`HTTPResponse.Status(code:)` alone leaves the phrase empty).
    static func standard(code: Int) -> HTTPResponse.Status {
        knownStatuses[code] ?? HTTPResponse.Status(code: code)
    }

    private static let knownStatuses: [Int: HTTPResponse.Status] = Dictionary(
        uniqueKeysWithValues: [
            HTTPResponse.Status.badRequest, .unauthorized, .forbidden, .notFound, .methodNotAllowed, .conflict,
            .gone, .preconditionFailed, .contentTooLarge, .unsupportedMediaType, .unprocessableContent,
            .preconditionRequired, .tooManyRequests, .internalServerError, .badGateway, .serviceUnavailable,
            .gatewayTimeout,
        ].map { ($0.code, $0) })

    /// The problem for any error a route threw; unknown errors become a bare 500.
    public static func problem(for error: any Error) -> Problem {
        switch error {
        case let error as ServiceError where ErrorCatalog.statuses[error.code.rawValue] != nil:
            return Problem(
                status: status(for: error.code), code: error.code.rawValue, detail: error.message,
                errors: error.fieldErrors)
        case let error as any HTTPResponseError:
            let status = standard(code: error.status.code)
            return Problem(status: status, code: code(for: status), detail: detail(for: status))
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
        case .methodNotAllowed: "This path does not answer this method; the Allow header lists those it does."
        case .contentTooLarge: "The request body is larger than 1 MiB."
        case .badRequest: "The request is malformed."
        default: status.reasonPhrase
        }
    }
}
