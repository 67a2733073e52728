import CZeroMQ
import Foundation
import Logging
import Synchronization

/// The zmq context pointer, shared between the I/O thread and the threads that create components.
///
/// `@unchecked Sendable`: libzmq documents contexts as thread-safe (zmq_ctx_new(3): "a ØMQ
/// context is thread safe and may be shared among as many application threads as necessary").
/// Only the context is shared this way; sockets never leave the I/O thread.
struct ZMQContextHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}

/// A thread that owns sockets and runs commands handed to it: the process's I/O thread, which owns
/// the context, and a worker's own threads (`WorkerThreads`), which share it.
///
/// Tasks hand it closures through a locked queue and wake it by writing to an eventfd; the thread
/// loops on `poll` over its sockets' descriptors plus that eventfd (see `Reactor.poll`), with a
/// timeout computed from the nearest timer. Nothing here blocks Swift's cooperative pool: callers
/// only take a lock and perhaps write eight bytes to the eventfd.
///
/// A loop is also a task executor: a task that prefers it runs on its thread, between commands.
final class IOLoop: Sendable {
    /// Work for the I/O thread, and what to do instead if the loop has already closed.
    struct Command: Sendable {
        let work: @Sendable (Reactor) -> Void
        let ifClosed: @Sendable () -> Void
    }

    private struct Shared {
        var commands: [Command] = []
        /// The thread is in (or about to enter) `poll` and needs a wake-up write.
        var sleeping = false
        var closed = false
    }

    let context: ZMQContextHandle
    let logger: Logger
    private let shared = Mutex(Shared())
    private let wakeFD: Int32
    /// `pthread_self()` of the I/O thread, published before it runs any command.
    private let threadID = Atomic<UInt>(0)

    private let spinNanoseconds: UInt64
    /// Whether this loop created the context and terminates it when it stops.
    private let ownsContext: Bool
    private let threadName: String
    private let hooks: LoopThreadHooks

    /// The process's I/O thread, with a new context.
    convenience init(logger: Logger, spinNanoseconds: UInt64 = 0) {
        guard let raw = zmq_ctx_new() else {
            preconditionFailure("zmq_ctx_new failed: errno \(zmq_errno())")
        }
        // The default of 1023 sockets is tight for a gateway whose client pool grows under load.
        zmq_ctx_set(raw, ZMQ_MAX_SOCKETS, 8192)
        self.init(
            context: ZMQContextHandle(raw: raw), ownsContext: true, threadName: "bus-io", hooks: .init(),
            logger: logger, spinNanoseconds: spinNanoseconds)
    }

    /// A further thread on `context` (which must outlive it: stop this loop before the context's own).
    /// `hooks` run on the thread itself, first and last.
    convenience init(sharing context: ZMQContextHandle, threadName: String, hooks: LoopThreadHooks, logger: Logger) {
        self.init(context: context, ownsContext: false, threadName: threadName, hooks: hooks, logger: logger, spinNanoseconds: 0)
    }

    private init(
        context: ZMQContextHandle, ownsContext: Bool, threadName: String, hooks: LoopThreadHooks, logger: Logger,
        spinNanoseconds: UInt64
    ) {
        self.context = context
        self.ownsContext = ownsContext
        self.threadName = threadName
        self.hooks = hooks
        self.logger = logger
        self.spinNanoseconds = spinNanoseconds
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(fd >= 0, "eventfd failed: errno \(errno)")
        self.wakeFD = fd
        Thread { [self] in self.run() }.start()
    }

    /// True on the I/O thread itself.
    var inLoop: Bool {
        pthread_self() == threadID.load(ordering: .acquiring)
    }

    /// Runs `work` on the I/O thread and waits until it has run; returns at once if the loop is closed.
    func perform(_ work: @escaping @Sendable (Reactor) -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            execute(
                { reactor in
                    work(reactor)
                    continuation.resume()
                }, ifClosed: { continuation.resume() })
        }
    }

    /// Runs `work` on the I/O thread, or `ifClosed` on the calling thread if the loop has stopped.
    func execute(
        _ work: @escaping @Sendable (Reactor) -> Void,
        ifClosed: @escaping @Sendable () -> Void = {}
    ) {
        let command = Command(work: work, ifClosed: ifClosed)
        let outcome: (accepted: Bool, wake: Bool) = shared.withLock { state in
            if state.closed { return (false, false) }
            state.commands.append(command)
            // One write per sleep: the first producer to find the thread asleep claims the wake-up.
            if state.sleeping {
                state.sleeping = false
                return (true, true)
            }
            return (true, false)
        }
        if !outcome.accepted {
            ifClosed()
        } else if outcome.wake {
            wake()
        }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(wakeFD, $0.baseAddress, 8) }
    }

    // MARK: The thread

    private func run() {
        threadID.store(pthread_self(), ordering: .releasing)
        // Named for top, perf and gdb; Foundation's Thread.name does not reach the OS thread.
        czmq_name_current_thread(threadName)
        hooks.starting()
        let reactor = Reactor(context: context.raw, wakeFD: wakeFD, logger: logger)
        let commandsWaiting = { self.shared.withLock { !$0.commands.isEmpty } }
        var batch: [Command] = []
        while true {
            shared.withLock { swap(&$0.commands, &batch) }
            for command in batch {
                command.work(reactor)
            }
            batch.removeAll(keepingCapacity: true)
            if reactor.shutdownRequested { break }
            reactor.runDueTimers()
            if reactor.shutdownRequested { break }

            let timeout = reactor.pollTimeoutMilliseconds()
            // Sleeping is declared under the same lock producers take, so no wake-up is lost.
            let commandsArrived = shared.withLock { state -> Bool in
                if !state.commands.isEmpty { return true }
                state.sleeping = true
                return false
            }
            if commandsArrived {
                reactor.poll(timeoutMilliseconds: 0)
                continue
            }
            if timeout != 0, spinNanoseconds > 0,
                reactor.pollBriefly(for: spinNanoseconds, commandsWaiting: commandsWaiting)
            {
                shared.withLock { $0.sleeping = false }
                continue
            }
            reactor.poll(timeoutMilliseconds: timeout)
            shared.withLock { $0.sleeping = false }
        }
        finish(reactor)
    }

    /// Closes every socket, refuses further commands, terminates the context, then tells waiters.
    private func finish(_ reactor: Reactor) {
        reactor.closeEverything()
        let leftovers = shared.withLock { state -> [Command] in
            state.closed = true
            let left = state.commands
            state.commands = []
            return left
        }
        for command in leftovers {
            command.ifClosed()
        }
        // Every socket is closed, so this returns once lingering messages are flushed or dropped.
        if ownsContext {
            while zmq_ctx_term(context.raw) != 0 && zmq_errno() == EINTR {}
        }
        close(wakeFD)
        // Before anyone hears that the loop stopped: what the thread held is let go by then.
        hooks.ending()
        reactor.completeShutdown()
    }
}

extension IOLoop: TaskExecutor {
    /// Runs a job of a task that prefers this loop on its thread; once the loop has stopped, on
    /// the calling thread rather than never.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        execute({ [self] _ in job.runSynchronously(on: asUnownedTaskExecutor()) }, ifClosed: { [self] in
            job.runSynchronously(on: asUnownedTaskExecutor())
        })
    }
}

/// What a loop's thread runs first and last, on itself (a worker's thread takes a database
/// connection of its own, and gives it back).
struct LoopThreadHooks: Sendable {
    var starting: @Sendable () -> Void = {}
    var ending: @Sendable () -> Void = {}
}

/// A value that lives on the I/O thread, carried by `Sendable` types that are used from anywhere.
///
/// `@unchecked Sendable`: the value can only be reached through `value`, which traps unless it is
/// read on the owning loop's thread, so it is never touched by two threads. It is handed over with
/// `sending`, so the creating thread keeps no reference to it.
struct LoopBound<Value>: @unchecked Sendable {
    private let wrapped: Value
    let loop: IOLoop

    init(_ value: sending Value, loop: IOLoop) {
        self.wrapped = value
        self.loop = loop
    }

    /// The value; only on the loop's thread.
    var value: Value {
        precondition(loop.inLoop, "a loop-bound value was touched off the bus I/O thread")
        return wrapped
    }
}
