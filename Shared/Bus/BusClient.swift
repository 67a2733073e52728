public import Foundation
import Instrumentation
public import Logging
public import Models

/// Typed bus calls: one `BusOperation` in, its response (or its `ServiceError`) out.
///
/// The MDP body is two frames, the JSON `RequestHeader` and the JSON request; the reply is the
/// JSON `ReplyHeader` and the JSON response. Every failure reaches the caller as a `ServiceError`:
/// the worker's own, or `.timeout` / `.unavailable` when no answer came.
///
/// Retries: an idempotent operation, or one called with an idempotency key, is tried again with
/// the same request id (the broker hands it to the longest-idle worker, so likely another one)
/// whenever an attempt gets no answer within a third of the operation's timeout, until the
/// timeout is spent; a late answer to an earlier attempt is as good as any. Any other call
/// gets one attempt: a lost answer leaves its outcome unknown, and that is what the error says.
/// A `busy` answer means the worker did not run the call, so every call is sent again after a
/// short pause that doubles each time (10 ms to 250 ms), while its deadline leaves room; the
/// last `busy` is what the caller gets when it does not.
///
/// A call made while serving a request (`ServiceContext.current` holds a trace) carries that
/// trace on as a new span (`RequestHeader.traceparent`).
public final class BusClient: Sendable {
    private let mdp: MDPClient
    private let logger: Logger

    /// Typed calls over `mdp`.
    public init(mdp: MDPClient, logger: Logger) {
        self.mdp = mdp
        self.logger = logger
    }

    /// Calls `operation` for `caller`; the deadline and retry policy come from the operation.
    public func call<Op: BusOperation>(
        _ operation: Op.Type, _ request: Op.Request, as caller: Caller, idempotencyKey: String? = nil
    ) async throws -> Op.Response {
        try await perform(
            service: Op.service, operation: Op.name, request: request, caller: caller, idempotent: Op.isIdempotent,
            idempotencyKey: idempotencyKey, timeout: Op.timeout, response: Self.decoder(for: Op.Response.self, operation: Op.name))
    }

    /// Calls `operation` for `caller` and returns its response as the worker wrote it: the JSON of
    /// `Op.Response`, for a front end that answers it unchanged (the gateway's HTTP API speaks the
    /// same JSON), without decoding it only to encode it again. Errors as `call`.
    public func callReturningJSON<Op: BusOperation>(
        _ operation: Op.Type, _ request: Op.Request, as caller: Caller, idempotencyKey: String? = nil
    ) async throws -> Data {
        try await perform(
            service: Op.service, operation: Op.name, request: request, caller: caller, idempotent: Op.isIdempotent,
            idempotencyKey: idempotencyKey, timeout: Op.timeout, response: { $0 })
    }

    /// Calls an operation known by name only (replay, info, tools), with an explicit policy.
    public func call<Request: Codable & Sendable, Response: Codable & Sendable>(
        service: ServiceName, operation: String, request: Request, responseType: Response.Type, as caller: Caller,
        idempotent: Bool, timeout: Duration
    ) async throws -> Response {
        try await perform(
            service: service, operation: operation, request: request, caller: caller, idempotent: idempotent,
            idempotencyKey: nil, timeout: timeout, response: Self.decoder(for: responseType, operation: operation))
    }

    /// Reads a response payload as `type`; one that does not match is the worker's fault.
    private static func decoder<Response: Decodable>(for type: Response.Type, operation: String) -> (Data) throws -> Response {
        { payload in
            guard let response = try? Wire.decoder.decode(Response.self, from: payload) else {
                throw ServiceError(.internalError, "the response to \(operation) does not match its type")
            }
            return response
        }
    }

    /// `mmi.workers`: how many instances and worker sockets the broker has for `service`.
    public func serviceStatus(_ service: ServiceName, timeout: Duration = .seconds(2)) async throws -> (
        instances: Int, workers: Int
    ) {
        let reply = try await ask(broker: "mmi.workers", about: service.rawValue, timeout: timeout)
        struct Counts: Decodable {
            let instances: Int
            let workers: Int
        }
        guard let counts = try? JSONDecoder().decode(Counts.self, from: reply) else {
            throw ServiceError(.internalError, "the broker's mmi.workers answer is not understood")
        }
        return (counts.instances, counts.workers)
    }

    /// `mmi.service` (RFC 8): whether the broker has live workers for `service`.
    public func hasWorkers(_ service: String, timeout: Duration = .seconds(2)) async throws -> Bool {
        switch String(decoding: try await ask(broker: "mmi.service", about: service, timeout: timeout), as: UTF8.self) {
        case "200": return true
        case "404": return false
        default: throw ServiceError(.internalError, "the broker's mmi.service answer is not understood")
        }
    }

    /// `mmi.stream`: whether `accountId` has a stream connection on some gateway now.
    public func hasStreamConnection(_ accountId: UUID, timeout: Duration = .seconds(2)) async throws -> Bool {
        switch String(decoding: try await ask(broker: "mmi.stream", about: accountId.uuidString.lowercased(), timeout: timeout), as: UTF8.self) {
        case "200": return true
        case "404": return false
        default: throw ServiceError(.internalError, "the broker's mmi.stream answer is not understood")
        }
    }

    private func ask(broker service: String, about name: String, timeout: Duration) async throws -> Data {
        let reply: [Data]
        do {
            reply = try await mdp.request(service: service, body: [Data(name.utf8)], timeout: timeout)
        } catch let error as BusError {
            throw ServiceError(.unavailable, error == .timeout ? "the broker did not answer" : "the bus is unavailable")
        }
        guard let first = reply.first else {
            throw ServiceError(.internalError, "the broker sent an empty answer")
        }
        return first
    }

    // MARK: The call

    private func perform<Request: Encodable, Response>(
        service: ServiceName, operation: String, request: Request, caller: Caller, idempotent: Bool,
        idempotencyKey: String?, timeout: Duration, response: (Data) throws -> Response
    ) async throws -> Response {
        let requestID = RequestID.next()
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let wallDeadline = Int64((Date().timeIntervalSince1970 * 1000).rounded()) + timeout.milliseconds
        // The call is the next span of the trace the calling task works in, if any.
        let header = RequestHeader(
            operation: operation, requestId: requestID, caller: caller, deadline: wallDeadline,
            traceparent: ServiceContext.current?.traceContext?.child().traceparent, idempotencyKey: idempotencyKey)
        let body: [Data]
        do {
            body = [HeaderCoding.encode(header), try Wire.encoder.encode(request)]
        } catch {
            throw ServiceError(.badRequest, "the request for \(operation) could not be encoded")
        }
        let retryable = idempotent || idempotencyKey != nil
        let attemptTimeout = retryable ? timeout / 3 : timeout
        var attempts = 0
        var busyPause = Duration.milliseconds(10)
        while true {
            let remaining = clock.now.duration(to: deadline)
            guard remaining > .zero else { break }
            attempts += 1
            let reply: [Data]
            do {
                reply = try await mdp.request(
                    service: service.rawValue, body: body, requestID: requestID, timeout: min(attemptTimeout, remaining))
            } catch let error as BusError {
                if error == .closed { throw ServiceError(.unavailable, "the bus is closed") }
                guard retryable else {
                    if error == .timeout {
                        throw ServiceError(.timeout, "\(operation) got no answer in time; its outcome is unknown")
                    }
                    throw ServiceError(.unavailable, "\(operation) could not be sent")
                }
                logger.debug(
                    "bus call attempt failed; retrying",
                    metadata: ["request.id": "\(requestID)", "bus.operation": "\(operation)", "bus.attempt": "\(attempts)"])
                continue
            }
            do {
                return try response(try payload(of: reply, requestID: requestID, operation: operation))
            } catch let error as ServiceError where error.code == .busy {
                // Tried again only while, after the pause, half the call's time is left to serve
                // it: a request let in at the last moment would run past the deadline, and its
                // client get "no answer in time, outcome unknown" (504) instead of "busy" (503).
                let pause = busyPause * Double.random(in: 0.5...1.5)
                guard clock.now.duration(to: deadline) > pause + timeout / 2 else { throw error }
                try? await Task.sleep(for: pause)
                busyPause = min(busyPause * 2, .milliseconds(250))
            }
        }
        logger.info(
            "bus call unanswered",
            metadata: ["request.id": "\(requestID)", "bus.operation": "\(operation)", "bus.attempts": "\(attempts)"])
        throw ServiceError(.unavailable, "no worker of \(service.rawValue) answered \(operation) in time")
    }

    /// The reply's payload frame; the worker's error, if it answered one.
    private func payload(of reply: [Data], requestID: String, operation: String) throws -> Data {
        guard let first = reply.first, let header = try? HeaderCoding.decodeReplyHeader(first),
            header.requestId == requestID
        else {
            throw ServiceError(.internalError, "the reply to \(operation) is malformed")
        }
        if let error = header.error { throw error }
        guard reply.count >= 2 else {
            throw ServiceError(.internalError, "the response to \(operation) does not match its type")
        }
        return reply[1]
    }
}

/// The shared JSON coders (`WireCoding`'s settings); both are thread-safe.
enum Wire {
    static let encoder = WireCoding.encoder()
    static let decoder = WireCoding.decoder()
}

extension Duration {
    /// Whole milliseconds, clamped at zero.
    var milliseconds: Int64 { Int64(clampedNanoseconds / 1_000_000) }
}
