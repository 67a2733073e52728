import Foundation
import Instrumentation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Threads that each own one connection and take jobs from one shared queue.
///
/// libpq blocks, so nothing of it may run on Swift's cooperative pool: a job is a closure run
/// on one of these threads with that thread's connection, and its result goes back to the
/// waiting task through a continuation.
///
/// The pool is also a task executor (`Database.executor`): a task that prefers it runs on these
/// threads, where blocking is allowed, so its database work runs at once on the thread it is on,
/// with that thread's connection, instead of being handed to another thread and back. A bus
/// worker serves its handlers this way: one thread hand-off less per statement, twice.
// @unchecked Sendable: the only mutable state (`jobs`, `tasks`, `nextJobID`, `closed`, `takingThreads`,
// `liveThreads`, `closeWaiters`) is read and written exclusively while `condition` is locked; the
// `let`s are Sendable.
final class ConnectionPool: @unchecked Sendable {
    private struct Job {
        let id: UInt64
        let run: @Sendable (ConnectionSlot) -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private let config: DatabaseConfig
    private let logger: Logger
    private let condition = NSCondition()
    private var jobs: [Job] = []
    /// Swift jobs of tasks that prefer this pool as their executor: never refused, never dropped,
    /// taken in turn with database jobs (`next(afterTask:)`).
    private var tasks: [UnownedJob] = []
    private var nextJobID: UInt64 = 0
    private var closed = false
    /// Threads still taking work: a thread leaves when the pool is closed and both queues are empty.
    private var takingThreads: Int
    private var liveThreads: Int
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    /// Starts `size` threads; they open their connections on their first job, not now.
    init(config: DatabaseConfig, size: Int, threadName: String, logger: Logger) {
        self.config = config
        self.logger = logger
        self.liveThreads = max(size, 1)
        self.takingThreads = max(size, 1)
        for index in 0..<liveThreads {
            let thread = Thread { [self] in work(slot: ConnectionSlot(config: config, logger: logger)) }
            thread.name = "\(threadName)-\(index)"
            thread.start()
        }
    }

    /// Runs `body` with a connection on a pool thread. A job still queued when its task is
    /// cancelled is dropped with `CancellationError`; one already running finishes. When
    /// `config.maxQueuedJobs` jobs already wait, it throws `StoreError.poolSaturated` at once.
    ///
    /// The task's `ServiceContext` is bound on the thread while `body` runs, so what it writes
    /// (an outbox row's trace) and logs belongs to the request that asked for it.
    func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        // Already on one of this pool's threads (a task that prefers the pool): use its connection.
        if let slot = PoolThread.slot(of: self) {
            try Task.checkCancellation()
            guard !condition.withLock({ closed }) else { throw StoreError.poolClosed }
            return try slot.perform(body)
        }
        let serviceContext = ServiceContext.current
        let id = condition.withLock {
            nextJobID += 1
            return nextJobID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let job = Job(
                    id: id,
                    run: { slot in
                        continuation.resume(
                            with: Result { try ServiceContext.withValue(serviceContext) { try slot.perform(body) } })
                    },
                    fail: { error in continuation.resume(throwing: error) })
                // Checked here, in the task: a cancellation that came before the job was queued is seen.
                if Task.isCancelled {
                    job.fail(CancellationError())
                } else if let refusal = enqueue(job) {
                    job.fail(refusal)
                }
            }
        } onCancel: {
            let dropped = condition.withLock { () -> Job? in
                guard let index = jobs.firstIndex(where: { $0.id == id }) else { return nil }
                return jobs.remove(at: index)
            }
            dropped?.fail(CancellationError())
        }
    }

    /// Makes the calling thread one of the pool's until `releaseCurrentThread()`: it gets a
    /// connection of its own (opened on its first use, not counted in the pool's size), and work
    /// it runs through the pool runs there at once. For threads that may block (not Swift's
    /// cooperative pool), such as a bus worker's own threads.
    func adoptCurrentThread() {
        PoolThread.enter(pool: self, slot: ConnectionSlot(config: config, logger: logger))
    }

    /// Closes the calling thread's own connection; it is no longer one of the pool's threads.
    func releaseCurrentThread() {
        PoolThread.slot(of: self)?.close()
        PoolThread.leave()
    }

    /// How many jobs wait for a connection now.
    var queuedJobs: Int { condition.withLock { jobs.count } }

    /// Refuses new jobs, lets the queued ones finish, then waits until every thread has closed
    /// its connection and exited.
    func close() async {
        shutdown()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = condition.withLock {
                if liveThreads == 0 { return true }
                closeWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Refuses new jobs and lets the threads exit once the queue is empty, without waiting.
    func shutdown() {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
    }

    /// Queues `job`, or says why not.
    private func enqueue(_ job: Job) -> StoreError? {
        condition.withLock {
            guard !closed else { return StoreError.poolClosed }
            guard jobs.count < config.maxQueuedJobs else {
                return StoreError.poolSaturated.with(context: "\(jobs.count) jobs already wait for a connection")
            }
            jobs.append(job)
            condition.signal()
            return nil
        }
    }

    /// What a pool thread does next.
    private enum Work {
        case database(Job)
        case task(UnownedJob)
    }

    /// The next work, from the queue the thread did not take from last time when both have some
    /// (so neither handlers nor other database work can starve the other); nil once the pool is
    /// closed and both queues are empty, and the thread is then no longer counted as taking work.
    private func next(afterTask lastWasTask: Bool) -> Work? {
        condition.withLock {
            while jobs.isEmpty && tasks.isEmpty && !closed {
                condition.wait()
            }
            if !tasks.isEmpty && (jobs.isEmpty || !lastWasTask) { return .task(tasks.removeFirst()) }
            if !jobs.isEmpty { return .database(jobs.removeFirst()) }
            takingThreads -= 1
            return nil
        }
    }

    private func work(slot: ConnectionSlot) {
        PoolThread.enter(pool: self, slot: slot)
        var lastWasTask = false
        while let work = next(afterTask: lastWasTask) {
            switch work {
            case .database(let job):
                lastWasTask = false
                job.run(slot)
            case .task(let job):
                lastWasTask = true
                job.runSynchronously(on: asUnownedTaskExecutor())
            }
        }
        PoolThread.leave()
        slot.close()
        let waiters = condition.withLock {
            liveThreads -= 1
            guard liveThreads == 0 else { return [CheckedContinuation<Void, Never>]() }
            defer { closeWaiters = [] }
            return closeWaiters
        }
        waiters.forEach { $0.resume() }
    }
}

extension ConnectionPool: TaskExecutor {
    /// Queues a Swift job of a task that prefers this pool. Once no thread takes work any more
    /// (the pool closed and drained), the job runs on the calling thread rather than never.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let queued = condition.withLock {
            guard takingThreads > 0 else { return false }
            tasks.append(job)
            condition.signal()
            return true
        }
        if !queued { job.runSynchronously(on: asUnownedTaskExecutor()) }
    }
}

/// Which pool, and which of its connections, the current thread serves: set for the life of each
/// pool thread, so that a task running there finds its connection (`ConnectionPool.run`).
enum PoolThread {
    private final class Membership {
        let pool: ObjectIdentifier
        let slot: ConnectionSlot
        init(pool: ObjectIdentifier, slot: ConnectionSlot) {
            self.pool = pool
            self.slot = slot
        }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static func enter(pool: ConnectionPool, slot: ConnectionSlot) {
        let membership = Membership(pool: ObjectIdentifier(pool), slot: slot)
        pthread_setspecific(key, Unmanaged.passRetained(membership).toOpaque())
    }

    static func leave() {
        guard let pointer = pthread_getspecific(key) else { return }
        Unmanaged<Membership>.fromOpaque(pointer).release()
        pthread_setspecific(key, nil)
    }

    /// The connection slot of the current thread, when it is one of `pool`'s threads.
    static func slot(of pool: ConnectionPool) -> ConnectionSlot? {
        guard let pointer = pthread_getspecific(key) else { return nil }
        let membership = Unmanaged<Membership>.fromOpaque(pointer).takeUnretainedValue()
        return membership.pool == ObjectIdentifier(pool) ? membership.slot : nil
    }
}
