@testable import Bus
import Foundation
import Models
import Testing

@Suite("Header JSON")
struct HeaderCodingTests {
    static let headers: [RequestHeader] = [
        RequestHeader(operation: "accounts.register", requestId: "r-1", caller: .anonymous, deadline: 1_800_000_000_123),
        RequestHeader(
            operation: "billing.charge", requestId: "9f2c41d07a3be815-1a2b",
            caller: Caller(
                accountId: UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"), roles: [.member, .advisor, .admin],
                doNotTrack: true),
            deadline: -5, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            idempotencyKey: "key/with\\odd \"chars\"", peer: "gateway"),
        RequestHeader(
            operation: "naïve \u{1F600} op\n\t\u{0001}", requestId: "", caller: .system, deadline: Int64.max,
            idempotencyKey: "ключ"),
    ]

    @Test("headers written by hand read back the same through Foundation and through the fast reader")
    func requestHeadersRoundTrip() throws {
        for header in Self.headers {
            let fast = HeaderCoding.encode(header)
            #expect(try WireCoding.decoder().decode(RequestHeader.self, from: fast) == header)
            #expect(try HeaderCoding.decodeRequestHeader(fast) == header)
            #expect(try HeaderCoding.decodeRequestHeader(try WireCoding.encoder().encode(header)) == header)
            let pretty = JSONEncoder()
            pretty.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
            #expect(try HeaderCoding.decodeRequestHeader(try pretty.encode(header)) == header)
        }
    }

    @Test("reply headers, with and without an error, survive both codings")
    func replyHeadersRoundTrip() throws {
        let replies = [
            ReplyHeader(requestId: "r-1"),
            ReplyHeader(
                requestId: "r-2",
                error: ServiceError(.validationFailed, "bad \"name\"", fieldErrors: [FieldError(field: "name", code: "short")])),
        ]
        for reply in replies {
            #expect(try WireCoding.decoder().decode(ReplyHeader.self, from: HeaderCoding.encode(reply)) == reply)
            #expect(try HeaderCoding.decodeReplyHeader(try WireCoding.encoder().encode(reply)) == reply)
        }
    }

    @Test("malformed headers are refused, not misread")
    func malformed() {
        for text in ["", "{", "{\"operation\":\"x\"", "[1]", "{\"a\":1} x", "{\"a\":\"\u{0001}\"}", "{\"a\":01}"] {
            #expect(JSONScanner.object(Data(text.utf8)) == nil, "\(text)")
            #expect(throws: (any Error).self) { try HeaderCoding.decodeRequestHeader(Data(text.utf8)) }
        }
    }

    /// The hand-written coding lists every field; a field added to the models must be added there.
    @Test("the hand-written coding knows every field of the headers")
    func fieldsAreKnown() {
        #expect(Mirror(reflecting: Self.headers[0]).children.count == 7, "RequestHeader changed: update HeaderCoding")
        #expect(Mirror(reflecting: Caller.anonymous).children.count == 3, "Caller changed: update HeaderCoding")
        #expect(Mirror(reflecting: ReplyHeader(requestId: "")).children.count == 2, "ReplyHeader changed: update HeaderCoding")
    }
}
