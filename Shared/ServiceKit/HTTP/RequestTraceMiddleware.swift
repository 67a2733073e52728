import HTTPTypes
public import Hummingbird
import Instrumentation
import Logging
import Models

/// Gives every request its id and its trace before anything else runs, and serves it inside a
/// `ServiceContext` holding both, so every bus call it makes, every event those calls write and
/// every line any process logs for it carries the same `trace.id` (docs/operations.md, "Following
/// a request").
///
/// The trace continues a valid W3C `traceparent` from the client, or starts one. The request id is
/// the client's `Request-Id` when it is short and plain (so the client's own correlation holds),
/// else the trace id: one id then finds the request everywhere. Every response carries
/// `Request-Id`, and `Trace-Id` names the trace.
public struct RequestTraceMiddleware<Context: IdentifiedRequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let trace = TraceContext.continuing(request.headers[.traceparent])
        context.requestId = Self.clientRequestId(in: request) ?? trace.traceId
        // The ids reach the request's log lines through the process's metadata provider
        // (`LoggingSetup.requestMetadata`); setting them on the logger would make swift-log's
        // text handler render its metadata again, on every request, for lines mostly never written.
        var response = try await ServiceContext.withValue(.serving(requestId: context.requestId, trace: trace)) {
            try await next(request, context)
        }
        response.headers[.requestId] = context.requestId
        response.headers[.traceId] = trace.traceId
        return response
    }

    /// The caller's own id, when it is 1 to 64 ASCII letters, digits, `-` or `_`.
    static func clientRequestId(in request: Request) -> String? {
        guard let given = request.headers[.requestId], (1...64).contains(given.utf8.count),
            given.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_")
            })
        else { return nil }
        return given
    }
}

extension HTTPField.Name {
    /// The request id answered on every response.
    public static let requestId = Self("Request-Id")!
    /// The trace id answered on every response: the `trace.id` of the request's log lines.
    public static let traceId = Self("Trace-Id")!
}
