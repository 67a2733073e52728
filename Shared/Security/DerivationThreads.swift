import Foundation
import Synchronization

/// A fixed set of threads that run password derivations for async callers, in arrival order.
///
/// One scrypt derivation holds a core and tens of MiB for tens of milliseconds. Run on Swift's
/// cooperative pool it would stall every task queued behind it on that core; run on a thread per
/// request, a burst of logins would allocate memory without bound. Here at most one derivation per
/// core runs at a time and the rest wait in the queue, costing nothing but their closure. A job
/// whose deadline passed while it waited is dropped, not computed: nobody waits for its answer.
/// And one that could not finish before its deadline, judged by the queue ahead of it and how long
/// derivations take lately, is refused at once: its caller can still say "busy, come back" (503)
/// rather than leave the client to time out (504), and the queue never grows past what the threads
/// can clear in time.
final class DerivationThreads: Sendable {
    /// The process-wide set, one thread per active core, started on first use.
    static let shared = DerivationThreads(width: max(1, ProcessInfo.processInfo.activeProcessorCount))

    private struct State {
        /// Each job says whether it ran (false: dropped, its deadline passed).
        var jobs: [@Sendable () -> Bool] = []
        /// Jobs a thread is running now.
        var running = 0
        /// A moving average of how long a job that ran held its thread, in seconds; 0 until one has.
        var meanSeconds = 0.0
    }

    private let width: Int
    private let state = Mutex(State())
    /// Counts queued jobs; a thread takes one job per successful wait.
    private let available = DispatchSemaphore(value: 0)

    init(width: Int) {
        self.width = width
        for index in 1...width {
            let thread = Thread { [self] in
                while true {
                    available.wait()
                    let job = state.withLock { state in
                        state.running += 1
                        return state.jobs.removeFirst()
                    }
                    let started = DispatchTime.now().uptimeNanoseconds
                    let ran = job()
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                    state.withLock { state in
                        state.running -= 1
                        // A dropped job took no time: counted, a flood of them would make the
                        // queue look fast just when it is not.
                        if ran { state.meanSeconds = state.meanSeconds == 0 ? seconds : state.meanSeconds * 0.8 + seconds * 0.2 }
                    }
                }
            }
            thread.name = "security.scrypt-\(index)"
            thread.start()
        }
    }

    /// Runs `work` on one of the threads and returns its result to the awaiting task.
    ///
    /// - Throws: `SecurityError.overloaded`, at once and without queuing `work`, when the jobs
    ///   already queued mean it would finish after `deadline`; `SecurityError.deadlinePassed`,
    ///   without running `work`, when a thread takes it up after `deadline`.
    func run<Value: Sendable>(deadline: Date? = nil, _ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let admitted = state.withLock { state in
                if let deadline {
                    // Each thread finishes what it runs (half a mean left, on average), clears its
                    // share of the queue, then this job: one mean each. (A margin for the caller's
                    // work after it refused, on a loaded machine, sign-ins that would have finished.)
                    let rounds = (Double(state.running) / 2 + Double(state.jobs.count)) / Double(width) + 1
                    guard Date().addingTimeInterval(rounds * state.meanSeconds) < deadline else { return false }
                }
                state.jobs.append {
                    if let deadline, deadline <= Date() {
                        continuation.resume(throwing: SecurityError.deadlinePassed)
                        return false
                    }
                    continuation.resume(with: Result { try work() })
                    return true
                }
                return true
            }
            guard admitted else {
                continuation.resume(throwing: SecurityError.overloaded)
                return
            }
            available.signal()
        }
    }
}
