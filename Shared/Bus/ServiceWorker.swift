import Foundation
public import Logging
import Metrics
public import Models
import Synchronization

/// Serves typed bus operations for one service: decodes the header, finds the handler, checks
/// the deadline, encodes the response or the `ServiceError`.
///
/// Register every handler before `run()`. A body whose header cannot be read is answered
/// `.badRequest`; an operation without a handler `.unknownOperation`; a call already past its
/// deadline `.timeout`, without running the handler. A handler's `ServiceError` goes back as it
/// is; any other error becomes `.internalError` with a generic message (the error itself is only
/// logged). Records `bus_requests_total{operation,outcome}` and
/// `bus_request_duration_seconds{operation}`.
public final class ServiceWorker: Sendable {
    typealias Handler = @Sendable (Data, RequestContext) async throws -> Data

    private let worker: MDPWorker
    private let service: ServiceName
    private let logger: Logger
    private let handlers = Mutex<[String: Handler]>([:])
    private let meters = Meters()

    /// A worker for `service`; see `MDPWorker` for the transport parameters.
    public init(
        context: BusContext, endpoint: String, service: ServiceName, instanceId: String, slots: Int = 4,
        curve: ClientCurve?, heartbeat: Heartbeat = .init(), logger: Logger
    ) {
        var logger = logger
        logger[metadataKey: "bus.service"] = "\(service.rawValue)"
        self.service = service
        self.logger = logger
        self.worker = MDPWorker(
            context: context, endpoint: endpoint, service: service.rawValue, instanceId: instanceId, slots: slots,
            curve: curve, heartbeat: heartbeat, logger: logger)
    }

    /// Serves `operation` with `handler`.
    public func handle<Op: BusOperation>(
        _ operation: Op.Type, _ handler: @escaping @Sendable (Op.Request, RequestContext) async throws -> Op.Response
    ) {
        handle(operation: Op.name, requestType: Op.Request.self, handler)
    }

    /// Serves an operation known by name (replay, info), decoding its request as `requestType`.
    public func handle<Request: Codable & Sendable, Response: Codable & Sendable>(
        operation: String, requestType: Request.Type,
        _ handler: @escaping @Sendable (Request, RequestContext) async throws -> Response
    ) {
        let erased: Handler = { payload, context in
            let request: Request
            do {
                request = try Wire.decoder.decode(Request.self, from: payload)
            } catch {
                throw ServiceError(.badRequest, "the request body is not a valid \(operation) request")
            }
            return try Wire.encoder.encode(try await handler(request, context))
        }
        handlers.withLock { $0[operation] = erased }
    }

    /// Registers with the broker and serves until `stop()`.
    public func run() async throws {
        try await worker.run { [self] body in await serve(body) }
    }

    /// Whether the broker has registered this worker (see `MDPWorker.isRegistered()`).
    public func isRegistered() async -> Bool {
        await worker.isRegistered()
    }

    /// Takes no new calls, lets calls in flight finish, unregisters.
    public func stop() async {
        await worker.stop()
    }

    // MARK: One call

    private func serve(_ body: [Data]) async -> [Data] {
        let started = ContinuousClock.now
        guard let first = body.first, let header = try? HeaderCoding.decodeRequestHeader(first) else {
            logger.warning("bus request with an unreadable header")
            return finish(
                requestID: "", operation: nil, error: ServiceError(.badRequest, "the request header is unreadable"),
                started: started)
        }
        let context = RequestContext(header: header, logger: logger)
        guard let handler = handlers.withLock({ $0[header.operation] }) else {
            context.logger.info("bus request for an operation this worker does not serve")
            return finish(
                requestID: header.requestId, operation: nil,
                error: ServiceError(.unknownOperation, "\(service.rawValue) has no operation \(header.operation)"),
                started: started)
        }
        guard context.deadline > Date() else {
            context.logger.info("bus request arrived after its deadline; not run")
            return finish(
                requestID: header.requestId, operation: header.operation,
                error: ServiceError(.timeout, "the deadline passed before the request was served"), started: started)
        }
        guard body.count >= 2 else {
            return finish(
                requestID: header.requestId, operation: header.operation,
                error: ServiceError(.badRequest, "the request has no payload frame"), started: started)
        }
        do {
            let response = try await handler(body[1], context)
            meters.record(operation: header.operation, outcome: "ok", since: started)
            return [Self.encode(ReplyHeader(requestId: header.requestId)), response]
        } catch let error as ServiceError {
            return finish(requestID: header.requestId, operation: header.operation, error: error, started: started)
        } catch {
            context.logger.error("bus handler failed", metadata: ["bus.error": "\(String(reflecting: error))"])
            return finish(
                requestID: header.requestId, operation: header.operation,
                error: ServiceError(.internalError, "the service failed to handle the request"), started: started)
        }
    }

    /// An error reply; `operation` is nil when it is unknown (kept out of metric labels).
    private func finish(requestID: String, operation: String?, error: ServiceError, started: ContinuousClock.Instant)
        -> [Data]
    {
        meters.record(operation: operation ?? "unknown", outcome: error.code.rawValue, since: started)
        return [Self.encode(ReplyHeader(requestId: requestID, error: error)), Data("null".utf8)]
    }

    private static func encode(_ header: ReplyHeader) -> Data {
        HeaderCoding.encode(header)
    }
}

/// The worker's metrics, created once per label set (a factory lookup per call would cost).
private final class Meters: Sendable {
    private struct Key: Hashable {
        let operation: String
        let outcome: String
    }

    private let counters = Mutex<[Key: Counter]>([:])
    private let timers = Mutex<[String: Metrics.Timer]>([:])

    func record(operation: String, outcome: String, since started: ContinuousClock.Instant) {
        let elapsed = started.duration(to: .now)
        let key = Key(operation: operation, outcome: outcome)
        let counter = counters.withLock { table in
            if let counter = table[key] { return counter }
            let counter = Counter(
                label: "bus_requests_total", dimensions: [("operation", operation), ("outcome", outcome)])
            table[key] = counter
            return counter
        }
        counter.increment()
        let timer = timers.withLock { table in
            if let timer = table[operation] { return timer }
            let timer = Metrics.Timer(label: "bus_request_duration_seconds", dimensions: [("operation", operation)])
            table[operation] = timer
            return timer
        }
        timer.recordNanoseconds(Int64(elapsed.clampedNanoseconds))
    }
}
