public import Foundation
public import Logging
public import Models

/// What a handler knows about the call besides its request: who, which call, until when.
public struct RequestContext: Sendable {
    /// The request header as the caller sent it.
    public let header: RequestHeader
    /// The caller's identity and roles, forwarded by the gateway; check authorization against it.
    public var caller: Caller { header.caller }
    /// The process that made the call, as the broker authenticated it by its CURVE key; nil on a
    /// bus without CURVE (`BUS_INSECURE`), where nothing about the sender is known.
    public var peer: String? { header.peer }
    /// The call's id, the same on every retry.
    public var requestId: String { header.requestId }
    /// The trace this call belongs to, as this worker's span: continued from the caller's
    /// `traceparent`, or a new trace when the call came without one.
    public let trace: TraceContext
    /// The service's logger with `request.id`, `trace.id` and `bus.operation` metadata set.
    ///
    /// Built when asked for, not per request: most calls never log, and setting metadata makes
    /// swift-log's text handler re-render its whole metadata string each time.
    public var logger: Logger {
        var logger = serviceLogger
        logger[metadataKey: "request.id"] = "\(header.requestId)"
        logger[metadataKey: "trace.id"] = "\(trace.traceId)"
        logger[metadataKey: "bus.operation"] = "\(header.operation)"
        return logger
    }
    private let serviceLogger: Logger
    /// When the caller stops waiting; work past it is wasted.
    public let deadline: Date

    /// A context for `header`; the deadline and the trace come from the header.
    public init(header: RequestHeader, logger: Logger) {
        self.header = header
        self.trace = TraceContext.continuing(header.traceparent)
        self.serviceLogger = logger
        self.deadline = Date(timeIntervalSince1970: Double(header.deadline) / 1000)
    }
}
