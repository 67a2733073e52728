public import Foundation

/// The first frame of every bus request body: what is asked, for whom, by when.
public struct RequestHeader: Codable, Sendable, Equatable {
    /// The operation's wire name, e.g. `accounts.register`.
    public var operation: String
    /// Unique per call (retries keep it), carried into logs as `request.id`.
    public var requestId: String
    public var caller: Caller
    /// Milliseconds since 1970 after which nobody waits for the answer.
    public var deadline: Int64
    /// W3C trace context of the caller, when it has one.
    public var traceparent: String?
    /// The client's idempotency key, for operations where money moves.
    public var idempotencyKey: String?
    /// The process that sent the call (`gateway`, `chat`, …), written by the broker from the
    /// CURVE key it authenticated, over whatever the sender put here; nil on a bus without CURVE.
    public var peer: String?

    public init(
        operation: String, requestId: String, caller: Caller, deadline: Int64,
        traceparent: String? = nil, idempotencyKey: String? = nil, peer: String? = nil
    ) {
        self.operation = operation
        self.requestId = requestId
        self.caller = caller
        self.deadline = deadline
        self.traceparent = traceparent
        self.idempotencyKey = idempotencyKey
        self.peer = peer
    }
}

/// The first frame of every bus reply body: the request it answers, and the error if it failed.
public struct ReplyHeader: Codable, Sendable, Equatable {
    public var requestId: String
    /// nil when the call succeeded and the second frame holds the response.
    public var error: ServiceError?

    public init(requestId: String, error: ServiceError? = nil) {
        self.requestId = requestId
        self.error = error
    }
}

/// A domain event as it travels: who produced it, its place in that producer's sequence, its type.
///
/// On the wire an event is three frames: the topic (its type), this metadata as JSON, the payload.
public struct EventMetadata: Codable, Sendable, Equatable {
    /// The producing service, e.g. `accounts`.
    public var producer: String
    /// Dense, starting at 1, stamped by the producer's relay when it publishes.
    public var seq: Int64
    /// Versioned event name, e.g. `accounts.account-created.v1`.
    public var type: String
    public var occurredAt: Date
    /// W3C trace context of the work that wrote the event, when it was serving a request: the
    /// consumers apply it as a span of that trace, so its `trace.id` reaches their logs too.
    public var traceparent: String?

    public init(producer: String, seq: Int64, type: String, occurredAt: Date, traceparent: String? = nil) {
        self.producer = producer
        self.seq = seq
        self.type = type
        self.occurredAt = occurredAt
        self.traceparent = traceparent
    }
}

/// A domain event a service announces; `type` is its versioned wire name.
public protocol DomainEvent: Codable, Sendable {
    /// E.g. `accounts.account-created.v1`: always prefixed by the producing service's name.
    static var type: String { get }
}

/// JSON coding shared by every bus participant, so both ends agree on dates and keys.
public enum WireCoding {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        // Strict RFC 3339: Foundation's `.iso8601` reads `12:99` as `13:39`.
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.date(from: text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "not an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SSZ")
            }
            return date
        }
        return decoder
    }
}
