import Foundation
import Instrumentation
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
/// is, and so does the `serviceError` of a `ServiceErrorConvertible` (a saturated or unreachable
/// database is `.unavailable`); any other error becomes `.internalError` with a generic message
/// (the error itself is only logged). Records `bus_requests_total{operation,outcome}` and
/// `bus_request_duration_seconds{operation}`.
///
/// A handler runs with `ServiceContext.current` holding the call's id and trace, so its bus calls,
/// the events it writes and every line it logs carry them on (`request.id`, `trace.id`).
///
/// MDP hands each slot one request at a time, so a handler that waits holds a slot. Costly
/// operations (password hashing) are served within a `SlotShare`: beyond the share's slots they
/// answer `busy` with a retry time at once (the client tries again, elsewhere or a little later),
/// so the slots left over always serve the cheap operations (session checks) that every
/// signed-in request needs.
public final class ServiceWorker: Sendable {
    typealias Handler = @Sendable (Data, RequestContext) async throws -> Data

    /// How many requests this worker serves at once (its MDP slots).
    public let slots: Int
    private let worker: MDPWorker
    private let service: ServiceName
    private let logger: Logger
    private let handlers = Mutex<[String: Handler]>([:])
    private let meters = Meters()
    private let executor: (any TaskExecutor)?

    /// A worker for `service`; see `MDPWorker` for the transport parameters.
    ///
    /// - Parameter executor: where handlers run once they first wait (the service's database pool,
    ///   `Database.executor`, so their statements run without a thread hand-off); by default the
    ///   cooperative pool. Not used with `threads`.
    /// - Parameter threads: a thread of its own for each slot, which runs the slot's handlers from
    ///   the request's arrival to its reply (see `WorkerThreads`).
    public init(
        context: BusContext, endpoint: String, service: ServiceName, instanceId: String, slots: Int = 4,
        curve: ClientCurve?, heartbeat: Heartbeat = .init(), executor: (any TaskExecutor)? = nil,
        threads: WorkerThreads? = nil, logger: Logger
    ) {
        self.executor = threads == nil ? executor : nil
        var logger = logger
        logger[metadataKey: "bus.service"] = "\(service.rawValue)"
        self.service = service
        self.logger = logger
        self.slots = max(1, slots)
        self.worker = MDPWorker(
            context: context, endpoint: endpoint, service: service.rawValue, instanceId: instanceId, slots: slots,
            curve: curve, heartbeat: heartbeat, threads: threads, logger: logger)
    }

    /// A share of this worker's slots for costly operations, leaving `reserved` slots (at least
    /// one, as long as the worker has two) to everything else.
    public func share(_ name: String, reserving reserved: Int) -> SlotShare {
        SlotShare(name: name, limit: max(1, slots - max(0, reserved)))
    }

    /// Serves `operation` with `handler`; within `share`, when given, beyond whose slots it
    /// answers `busy` at once, without running the handler.
    public func handle<Op: BusOperation>(
        _ operation: Op.Type, within share: SlotShare? = nil,
        _ handler: @escaping @Sendable (Op.Request, RequestContext) async throws -> Op.Response
    ) {
        handle(operation: Op.name, requestType: Op.Request.self, within: share, handler)
    }

    /// Serves an operation known by name (replay, info), decoding its request as `requestType`.
    ///
    /// A payload holding a NUL character in any string is refused as `.badRequest` before it is
    /// decoded: no service stores one (PostgreSQL text cannot), and none must see one half-way.
    public func handle<Request: Codable & Sendable, Response: Codable & Sendable>(
        operation: String, requestType: Request.Type, within share: SlotShare? = nil,
        _ handler: @escaping @Sendable (Request, RequestContext) async throws -> Response
    ) {
        let erased: Handler = { payload, context in
            guard !JSONText.containsNUL(payload) else {
                throw ServiceError(.badRequest, "text in a \(operation) request must not contain NUL characters")
            }
            let request: Request
            do {
                request = try Wire.decoder.decode(Request.self, from: payload)
            } catch {
                throw ServiceError(.badRequest, "the request body is not a valid \(operation) request")
            }
            guard let share else { return try Wire.encoder.encode(try await handler(request, context)) }
            guard share.enter() else {
                context.logger.debug("bus request refused: its slot share is full", metadata: ["bus.share": "\(share.name)"])
                throw ServiceError(
                    .busy, "the service is busy with other requests of this kind; try again shortly",
                    retryAfterSeconds: 1)
            }
            defer { share.leave() }
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
            let response = try await ServiceContext.withValue(
                .serving(requestId: header.requestId, trace: context.trace)
            ) { try await withTaskExecutorPreference(executor) { try await handler(body[1], context) } }
            meters.record(operation: header.operation, outcome: "ok", since: started)
            return [Self.encode(ReplyHeader(requestId: header.requestId)), response]
        } catch let error as ServiceError {
            return finish(requestID: header.requestId, operation: header.operation, error: error, started: started)
        } catch {
            if let answer = (error as? any ServiceErrorConvertible)?.serviceError {
                context.logger.warning("bus handler failed", metadata: ["bus.error": "\(String(reflecting: error))"])
                return finish(requestID: header.requestId, operation: header.operation, error: answer, started: started)
            }
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

/// How many of a worker's slots a group of costly operations may hold at once.
public final class SlotShare: Sendable {
    /// Names the share in logs.
    public let name: String
    /// The most requests of the share served at once.
    public let limit: Int
    private let inUse = Atomic<Int>(0)

    init(name: String, limit: Int) {
        self.name = name
        self.limit = limit
    }

    /// Takes a place if one is free.
    func enter() -> Bool {
        var current = inUse.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = inUse.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func leave() {
        inUse.subtract(1, ordering: .acquiringAndReleasing)
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
