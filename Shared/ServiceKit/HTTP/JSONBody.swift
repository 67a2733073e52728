public import Foundation
public import HTTPTypes
public import Hummingbird
public import Models

/// A public request body (the gateway's, the partner API's), mapped field by field to what it asks.
///
/// Its `CodingKeys` list every field it has; a body naming any other field is refused (422
/// `unknown_field`) rather than silently ignored, so a misspelt optional field cannot pass for
/// an absent one, and the document can say `additionalProperties: false`. A field sent as
/// `null` is refused too (422 `invalid`): no field of the API is nullable.
public protocol JSONRequestBody: Decodable {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

/// Reading JSON request bodies and writing JSON answers the contract's way: RFC 3339 dates,
/// 400 `malformed_json` for what is not JSON, 422 with field errors for JSON of the wrong shape
/// or with fields the body does not have, 400 `invalid_text` for a string holding NUL (no
/// service can store one).
public enum JSONBody {
    private static let decoder = WireCoding.decoder()
    private static let encoder = WireCoding.encoder()

    /// The body as `type`; bodies over 1 MiB are 413, even without a Content-Length, and a body
    /// that does not say it is JSON is 415 (a form a browser can send from any site, without
    /// asking first, is never read as one).
    public static func decode<T: JSONRequestBody>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: HTTPLimits.maxBodyBytes)
        let data = Data(buffer.readableBytesView)
        if !data.isEmpty, !saysJSON(request.headers[.contentType]) {
            throw ServiceError(.unsupportedMediaType, "Send the body as JSON, with Content-Type: application/json.")
        }
        guard !JSONText.containsNUL(data) else {
            throw ServiceError(.invalidText, "Text in the request body must not contain NUL characters.")
        }
        let body: T
        do {
            body = try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw problem(for: error)
        }
        try refuseStrayFields(of: type, in: data)
        return body
    }

    /// Whether a Content-Type names JSON: `application/json` or a `+json` type, any parameters.
    static func saysJSON(_ contentType: String?) -> Bool {
        guard let contentType, let mediaType = contentType.split(separator: ";", maxSplits: 1).first else { return false }
        let name = mediaType.trimmingCharacters(in: .whitespaces).lowercased()
        return name == "application/json" || (name.hasPrefix("application/") && name.hasSuffix("+json"))
    }

    /// 422 naming (some of) the top-level fields `type` does not have, and those sent as `null`:
    /// the document types each field, and an absent field is left out, not null.
    private static func refuseStrayFields<T: JSONRequestBody>(of type: T.Type, in data: Data) throws {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        let known = Set(T.CodingKeys.allCases.map(\.stringValue))
        let unknown = object.keys.filter { !known.contains($0) }.sorted()
        let null = object.filter { known.contains($0.key) && $0.value is NSNull }.keys.sorted()
        guard unknown.isEmpty && null.isEmpty else {
            // A few, briefly: the names are the client's text, echoed back.
            let named = unknown.prefix(10).map { FieldError(field: String($0.prefix(64)), code: "unknown_field") }
            throw ServiceError(
                .validationFailed,
                named.isEmpty
                    ? "Leave a field out rather than sending null: \(null.joined(separator: ", "))."
                    : "The body has fields this operation does not take: \(named.map(\.field).joined(separator: ", ")).",
                fieldErrors: named + null.map { FieldError(field: $0, code: "invalid") })
        }
    }

    /// For a nested object of a body: its fields other than `known` are refused (422 `invalid`
    /// naming the field), as the top level's are.
    public static func refuseUnknownFields(in decoder: any Decoder, known: Set<String>) throws {
        let container = try decoder.container(keyedBy: AnyFieldKey.self)
        if let stray = container.allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorruptedError(forKey: stray, in: container, debugDescription: "a field this object does not have")
        }
    }

    private struct AnyFieldKey: CodingKey {
        let stringValue: String
        let intValue: Int? = nil
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A JSON answer with `status` and any extra headers.
    public static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws
        -> Response
    {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// A bus response answered as it came (`BusClient.callReturningJSON`): the bus and the HTTP API
    /// write the same JSON (`WireCoding`), so decoding it only to encode it again would be waste.
    public static func relay(_ json: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    /// Unreadable JSON is the client's syntax error; readable JSON of the wrong shape names the field.
    public static func problem(for error: DecodingError) -> ServiceError {
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
