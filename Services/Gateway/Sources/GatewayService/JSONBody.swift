import Foundation
import HTTPTypes
import Hummingbird
import Models
import NIOCore
import ServiceKit

/// Reading JSON request bodies and writing JSON answers the contract's way: RFC 3339 dates,
/// 400 `malformed_json` for what is not JSON, 422 with field errors for JSON of the wrong shape,
/// 400 `invalid_text` for a string holding NUL (no service can store one).
enum JSONBody {
    private static let decoder = WireCoding.decoder()
    private static let encoder = WireCoding.encoder()

    /// The body as `type`; bodies over 1 MiB are 413, even without a Content-Length.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: HTTPLimits.maxBodyBytes)
        let data = Data(buffer.readableBytesView)
        guard !JSONText.containsNUL(data) else {
            throw ServiceError(.invalidText, "Text in the request body must not contain NUL characters.")
        }
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw problem(for: error)
        }
    }

    /// A JSON answer with `status` and any extra headers.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws
        -> Response
    {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// Unreadable JSON is the client's syntax error; readable JSON of the wrong shape names the field.
    static func problem(for error: DecodingError) -> ServiceError {
        let malformed = ServiceError(.malformedJSON, "The request body is not valid JSON.")
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return malformed
        case .keyNotFound(let key, let context):
            return invalid(field: path(context.codingPath + [key]), code: "required")
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return invalid(field: path(context.codingPath), code: "invalid")
        @unknown default:
            return malformed
        }
    }

    private static func invalid(field: String, code: String) -> ServiceError {
        ServiceError(
            .validationFailed, "The field \(field) is missing or has the wrong type.",
            fieldErrors: [FieldError(field: field, code: code)])
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "\($0)" } ?? $0.stringValue }.joined(separator: ".")
    }
}
