import Foundation
import Synchronization

/// A fixed set of threads that run password derivations for async callers, in arrival order.
///
/// One scrypt derivation holds a core and tens of MiB for tens of milliseconds. Run on Swift's
/// cooperative pool it would stall every task queued behind it on that core; run on a thread per
/// request, a burst of logins would allocate memory without bound. Here at most one derivation per
/// core runs at a time and the rest wait in the queue, costing nothing but their closure. A job
/// whose deadline passed while it waited is dropped, not computed: nobody waits for its answer.
final class DerivationThreads: Sendable {
    /// The process-wide set, one thread per active core, started on first use.
    static let shared = DerivationThreads(width: max(1, ProcessInfo.processInfo.activeProcessorCount))

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    /// Counts queued jobs; a thread takes one job per successful wait.
    private let available = DispatchSemaphore(value: 0)

    private init(width: Int) {
        for index in 1...width {
            let thread = Thread { [self] in
                while true {
                    available.wait()
                    let job = jobs.withLock { $0.removeFirst() }
                    job()
                }
            }
            thread.name = "security.scrypt-\(index)"
            thread.start()
        }
    }

    /// Runs `work` on one of the threads and returns its result to the awaiting task.
    ///
    /// - Throws: `SecurityError.deadlinePassed`, without running `work`, when a thread takes it up
    ///   after `deadline`.
    func run<Value: Sendable>(deadline: Date? = nil, _ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            jobs.withLock {
                $0.append {
                    if let deadline, deadline <= Date() {
                        continuation.resume(throwing: SecurityError.deadlinePassed)
                        return
                    }
                    continuation.resume(with: Result { try work() })
                }
            }
            available.signal()
        }
    }
}
