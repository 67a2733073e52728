public import Foundation
public import Logging
import Synchronization

/// An MDP/0.1 client (RFC 7): sends a request to a service through the broker, awaits the reply.
///
/// Typed calls (`request(service:body:requestID:timeout:)`) share one DEALER socket, with many
/// requests in flight and each reply matched by the request id in its reply header, as RFC 7
/// allows an asynchronous client to do. Other requests use a pool of DEALER sockets, each with
/// at most one outstanding request, so any reply body will do; a pooled socket whose request
/// timed out is closed and replaced, so a late reply can never answer another call. Sockets
/// reconnect on their own, so a client survives a broker restart (the calls in flight at that
/// moment time out).
public final class MDPClient: Sendable {
    private let loop: IOLoop
    private let engine: LoopBound<ClientEngine>
    private let nextID = Atomic<UInt64>(0)

    /// A client of the broker at `endpoint`; sockets are opened on first use.
    ///
    /// - Parameter maxSockets: calls in flight at once; further calls wait for a free socket
    ///   (their timeout running).
    public init(context: BusContext, endpoint: String, curve: ClientCurve?, maxSockets: Int = 256, logger: Logger) {
        self.loop = context.loop
        self.engine = LoopBound(
            ClientEngine(endpoint: endpoint, curve: curve, maxSockets: maxSockets, logger: logger), loop: context.loop)
    }

    /// Sends `body` to `service` and returns the reply body.
    ///
    /// Throws `BusError.timeout` when no reply came in time (the request may or may not have
    /// been served), `BusError.closed` after `close()`, `CancellationError` if the task is
    /// cancelled.
    public func request(service: String, body: [Data], timeout: Duration) async throws -> [Data] {
        try await send(service: service, body: body, requestID: nil, timeout: timeout)
    }

    /// Sends a typed call's `body` (its `RequestHeader` first) on the shared socket; the reply is
    /// the one whose `ReplyHeader` carries `requestID`. Throws as `request(service:body:timeout:)`.
    public func request(service: String, body: [Data], requestID: String, timeout: Duration) async throws -> [Data] {
        try await send(service: service, body: body, requestID: requestID, timeout: timeout)
    }

    private func send(service: String, body: [Data], requestID: String?, timeout: Duration) async throws -> [Data] {
        try Task.checkCancellation()
        let id = nextID.add(1, ordering: .relaxed).newValue
        let engine = self.engine
        let loop = self.loop
        let name = Data(service.utf8)
        let nanoseconds = timeout.clampedNanoseconds
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: ClientEngine.Continuation) in
                loop.execute(
                    { reactor in
                        engine.value.request(
                            reactor, id: id, service: name, body: body, requestID: requestID, timeout: nanoseconds,
                            continuation: continuation)
                    }, ifClosed: { continuation.resume(throwing: BusError.closed) })
            }
        } onCancel: {
            loop.execute { _ in engine.value.cancel(id) }
        }
    }

    /// Live calls waiting for a connection or a socket, and the shared backlog's length with the
    /// ended calls it still holds; what a test can see of an unreachable broker.
    func backlog() async -> (waiting: Int, held: Int) {
        let engine = self.engine
        return await withCheckedContinuation { continuation in
            loop.execute(
                { _ in continuation.resume(returning: (engine.value.waiting, engine.value.sharedBacklogLength)) },
                ifClosed: { continuation.resume(returning: (0, 0)) })
        }
    }

    /// Closes every socket; calls in flight fail with `BusError.closed`.
    public func close() async {
        let engine = self.engine
        await loop.perform { _ in engine.value.close() }
    }
}
