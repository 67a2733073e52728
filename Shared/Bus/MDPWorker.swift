public import Foundation
public import Logging

/// An MDP/0.1 worker (RFC 7) for one service: `slots` DEALER sockets, one request at a time each.
///
/// Each slot registers with the broker under the identity "<instanceId>/<n>~<random>" (the broker counts
/// instances by the text before the last "/", so `instanceId` must be unique per process and
/// service). Slots heartbeat the broker; one that hears nothing for `liveness × interval` while
/// idle, or is told DISCONNECT, opens a new socket and registers again, under
/// "<instanceId>/<n>.<k>" for its k-th reconnection: that is how workers survive a broker restart.
///
/// The slots live on the process's bus I/O thread, or, with `threads`, each on a thread of its own
/// that also runs the slot's handlers (`WorkerThreads`).
public final class MDPWorker: Sendable {
    /// One loop and the slots it serves.
    private struct Part: Sendable {
        let loop: IOLoop
        let engine: LoopBound<WorkerEngine>
    }

    private let context: BusContext
    private let parts: [Part]
    /// Whether the loops are this worker's own threads, to be stopped with it.
    private let ownsLoops: Bool

    /// A worker; nothing connects until `run`.
    ///
    /// - Parameter stopGracePeriod: how long `stop()` lets running handlers finish.
    /// - Parameter threads: a thread of its own for each slot, where its handlers run too.
    public init(
        context: BusContext, endpoint: String, service: String, instanceId: String, slots: Int = 4,
        curve: ClientCurve?, heartbeat: Heartbeat = .init(), stopGracePeriod: Duration = .seconds(10),
        threads: WorkerThreads? = nil, logger: Logger
    ) {
        self.context = context
        let slotCount = max(1, slots)
        func engine(_ numbers: [Int], on loop: IOLoop, executor: (any TaskExecutor)?) -> Part {
            Part(
                loop: loop,
                engine: LoopBound(
                    WorkerEngine(
                        endpoint: endpoint, service: service, instanceId: instanceId, slotNumbers: numbers, curve: curve,
                        heartbeat: heartbeat, gracePeriod: stopGracePeriod, handlerExecutor: executor, logger: logger),
                    loop: loop))
        }
        if let threads {
            ownsLoops = true
            parts = (0..<slotCount).map { number in
                let loop = context.openWorkerLoop(
                    threadName: "bus-worker-\(number)",
                    hooks: LoopThreadHooks(starting: threads.starting, ending: threads.ending))
                return engine([number], on: loop, executor: loop)
            }
        } else {
            ownsLoops = false
            parts = [engine(Array(0..<slotCount), on: context.loop, executor: nil)]
        }
    }

    /// Serves until stop(); handler gets the request body frames, returns reply body frames.
    ///
    /// Returns after `stop()`; throws `BusError.closed` if the context shuts down underneath it,
    /// `BusError.invalidEndpoint` if the endpoint cannot be connected to.
    public func run(_ handler: @escaping @Sendable ([Data]) async -> [Data]) async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for part in parts {
                    group.addTask { try await Self.run(part, handler) }
                }
                do {
                    try await group.waitForAll()
                } catch {
                    await stop()
                    throw error
                }
            }
        } catch {
            await closeOwnLoops()
            throw error
        }
        await closeOwnLoops()
    }

    private static func run(_ part: Part, _ handler: @escaping @Sendable ([Data]) async -> [Data]) async throws {
        let engine = part.engine
        let loop = part.loop
        let deliver: WorkerEngine.Deliver = { slot, generation, client, reply in
            // A handler that finished on the loop's own thread answers at once.
            if loop.inLoop {
                engine.value.complete(slot: slot, generation: generation, client: client, reply: reply)
            } else {
                loop.execute { _ in engine.value.complete(slot: slot, generation: generation, client: client, reply: reply) }
            }
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute(
                { reactor in engine.value.run(reactor, handler: handler, deliver: deliver, continuation: continuation) },
                ifClosed: { continuation.resume(throwing: BusError.closed) })
        }
    }

    private func closeOwnLoops() async {
        guard ownsLoops else { return }
        for part in parts { await context.closeWorkerLoop(part.loop) }
    }

    /// Whether the broker has registered this worker: it is running and the broker has heartbeated
    /// (or sent a request to) one of its slots since that slot's READY. Our broker heartbeats a
    /// worker as soon as it registers it; another broker within one heartbeat interval.
    public func isRegistered() async -> Bool {
        for part in parts {
            let engine = part.engine
            let registered = await withCheckedContinuation { continuation in
                part.loop.execute(
                    { _ in continuation.resume(returning: engine.value.isRegistered) },
                    ifClosed: { continuation.resume(returning: false) })
            }
            if registered { return true }
        }
        return false
    }

    /// Graceful stop: takes no new work, lets handlers in flight finish (up to the grace period),
    /// tells the broker DISCONNECT so it drops this worker at once, and closes.
    public func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for part in parts {
                let engine = part.engine
                group.addTask {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        part.loop.execute({ _ in engine.value.stop(continuation) }, ifClosed: { continuation.resume() })
                    }
                }
            }
        }
    }
}

/// A worker's own threads: one per slot, each receiving its slot's requests and running their
/// handlers itself, so that a request crosses no thread of the process between arriving and being
/// answered (unless its handler waits for something else). A handler may block there (it is not
/// Swift's cooperative pool): give each thread a database connection of its own with `starting`
/// (`Database.adoptCurrentThread`) and its statements run where the request arrived.
public struct WorkerThreads: Sendable {
    /// Runs first on each thread.
    public var starting: @Sendable () -> Void
    /// Runs last on each thread, once its slot has stopped.
    public var ending: @Sendable () -> Void

    public init(starting: @escaping @Sendable () -> Void, ending: @escaping @Sendable () -> Void) {
        self.starting = starting
        self.ending = ending
    }
}
