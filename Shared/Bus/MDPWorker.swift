public import Foundation
public import Logging

/// An MDP/0.1 worker (RFC 7) for one service: `slots` DEALER sockets, one request at a time each.
///
/// Each slot registers with the broker under the identity "<instanceId>/<n>~<random>" (the broker counts
/// instances by the text before the last "/", so `instanceId` must be unique per process and
/// service). Slots heartbeat the broker; one that hears nothing for `liveness × interval` while
/// idle, or is told DISCONNECT, opens a new socket and registers again, under
/// "<instanceId>/<n>.<k>" for its k-th reconnection: that is how workers survive a broker restart.
public final class MDPWorker: Sendable {
    private let loop: IOLoop
    private let engine: LoopBound<WorkerEngine>

    /// A worker; nothing connects until `run`.
    ///
    /// - Parameter stopGracePeriod: how long `stop()` lets running handlers finish.
    public init(
        context: BusContext, endpoint: String, service: String, instanceId: String, slots: Int = 4,
        curve: ClientCurve?, heartbeat: Heartbeat = .init(), stopGracePeriod: Duration = .seconds(10), logger: Logger
    ) {
        self.loop = context.loop
        self.engine = LoopBound(
            WorkerEngine(
                endpoint: endpoint, service: service, instanceId: instanceId, slots: slots, curve: curve,
                heartbeat: heartbeat, gracePeriod: stopGracePeriod, logger: logger),
            loop: context.loop)
    }

    /// Serves until stop(); handler gets the request body frames, returns reply body frames.
    ///
    /// Returns after `stop()`; throws `BusError.closed` if the context shuts down underneath it,
    /// `BusError.invalidEndpoint` if the endpoint cannot be connected to.
    public func run(_ handler: @escaping @Sendable ([Data]) async -> [Data]) async throws {
        let engine = self.engine
        let loop = self.loop
        let deliver: WorkerEngine.Deliver = { slot, generation, client, reply in
            loop.execute { _ in engine.value.complete(slot: slot, generation: generation, client: client, reply: reply) }
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute(
                { reactor in engine.value.run(reactor, handler: handler, deliver: deliver, continuation: continuation) },
                ifClosed: { continuation.resume(throwing: BusError.closed) })
        }
    }

    /// Whether the broker has registered this worker: it is running and the broker has heartbeated
    /// (or sent a request to) one of its slots since that slot's READY. Our broker heartbeats a
    /// worker as soon as it registers it; another broker within one heartbeat interval.
    public func isRegistered() async -> Bool {
        let engine = self.engine
        return await withCheckedContinuation { continuation in
            loop.execute(
                { _ in continuation.resume(returning: engine.value.isRegistered) },
                ifClosed: { continuation.resume(returning: false) })
        }
    }

    /// Graceful stop: takes no new work, lets handlers in flight finish (up to the grace period),
    /// tells the broker DISCONNECT so it drops this worker at once, and closes.
    public func stop() async {
        let engine = self.engine
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute({ _ in engine.value.stop(continuation) }, ifClosed: { continuation.resume() })
        }
    }
}
