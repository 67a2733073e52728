public import Logging
import Synchronization

/// One per process: the ZeroMQ context and the I/O thread that owns every bus socket.
///
/// Create it at start-up, hand it to every bus component, and `shutdown()` it last. Shutting
/// down closes every socket at once without goodbyes (a worker that is still registered simply
/// vanishes, as if it had crashed); stop components first for a graceful exit.
public final class BusContext: Sendable {
    let loop: IOLoop
    let logger: Logger
    /// Loops of workers' own threads, on this context: stopped before the I/O thread, whose
    /// context cannot end while their sockets are open.
    private let workerLoops = Mutex<[ObjectIdentifier: IOLoop]>([:])

    /// Starts the I/O thread.
    ///
    /// - Parameter spinBeforeSleeping: how long the I/O thread keeps checking its sockets,
    ///   yielding the CPU between checks, before it sleeps. Waking a sleeping thread costs tens
    ///   of microseconds on a virtual machine, several times per call; spinning saves that when
    ///   answers follow each other closely, at the price of CPU while waiting. Zero never spins.
    public init(logger: Logger, spinBeforeSleeping: Duration = .zero) {
        self.logger = logger
        self.loop = IOLoop(logger: logger, spinNanoseconds: spinBeforeSleeping.clampedNanoseconds)
    }

    /// Closes every socket of this context, stops the I/O thread and terminates the context.
    ///
    /// Calls in flight fail with `BusError.closed`; calling it again returns at once.
    public func shutdown() async {
        for workerLoop in workerLoops.withLock({ $0.values }) {
            await Self.stop(workerLoop)
        }
        await Self.stop(loop)
    }

    /// A new thread with a loop on this context, for a worker's slots.
    func openWorkerLoop(threadName: String, hooks: LoopThreadHooks) -> IOLoop {
        let workerLoop = IOLoop(sharing: loop.context, threadName: threadName, hooks: hooks, logger: logger)
        workerLoops.withLock { $0[ObjectIdentifier(workerLoop)] = workerLoop }
        return workerLoop
    }

    /// Stops a worker's loop (its sockets close without goodbyes) and forgets it.
    func closeWorkerLoop(_ workerLoop: IOLoop) async {
        await Self.stop(workerLoop)
        _ = workerLoops.withLock { $0.removeValue(forKey: ObjectIdentifier(workerLoop)) }
    }

    private static func stop(_ loop: IOLoop) async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            loop.execute({ reactor in reactor.requestShutdown(waiter) }, ifClosed: { waiter.resume() })
        }
    }
}
