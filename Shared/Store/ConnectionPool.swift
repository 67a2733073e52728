import Foundation
import Instrumentation
import Logging

/// Threads that each own one connection and take jobs from one shared queue.
///
/// libpq blocks, so nothing of it may run on Swift's cooperative pool: a job is a closure run
/// on one of these threads with that thread's connection, and its result goes back to the
/// waiting task through a continuation.
// @unchecked Sendable: the only mutable state (`jobs`, `nextJobID`, `closed`, `liveThreads`,
// `closeWaiters`) is read and written exclusively while `condition` is locked; the `let`s are Sendable.
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
    private var nextJobID: UInt64 = 0
    private var closed = false
    private var liveThreads: Int
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    /// Starts `size` threads; they open their connections on their first job, not now.
    init(config: DatabaseConfig, size: Int, threadName: String, logger: Logger) {
        self.config = config
        self.logger = logger
        self.liveThreads = max(size, 1)
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

    private func next() -> Job? {
        condition.withLock {
            while jobs.isEmpty && !closed {
                condition.wait()
            }
            return jobs.isEmpty ? nil : jobs.removeFirst()
        }
    }

    private func work(slot: ConnectionSlot) {
        while let job = next() {
            job.run(slot)
        }
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
