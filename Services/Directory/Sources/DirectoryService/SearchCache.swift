import Foundation
import Models
import Synchronization

/// Search answers reused for a moment (`DIRECTORY_SEARCH_CACHE_MILLISECONDS`, half a second by
/// default), so that a popular search under load is computed a few times a second, not once per
/// request: a text search reads thousands of profiles to count its facets, and the same first
/// page is what most people ask for.
///
/// An answer is never older than the lifetime (counted from when its computation began): for
/// the first half it is served as it is; in the second half it is still served while one
/// computation renews it in the background, so nobody waits for a popular search; after that a
/// request waits for a fresh one, which concurrent identical requests share. The answers are
/// public (they do not depend on who asks), and a status change shows within the lifetime plus
/// one computation, inside the second the directory promises.
final class SearchCache: Sendable {
    private struct Entry {
        /// The last answer and when its computation began.
        var answer: (response: Directory.Search.Response, asOf: ContinuousClock.Instant)?
        /// A computation in flight, which every waiting request shares.
        var renewal: Task<Directory.Search.Response, any Error>?
    }

    private enum Plan {
        case serve(Directory.Search.Response)
        case wait(Task<Directory.Search.Response, any Error>)
    }

    private let lifetime: Duration
    private let capacity: Int
    private let entries = Mutex<[Directory.Search.Request: Entry]>([:])
    /// The time; tests move it by hand.
    private let now: @Sendable () -> ContinuousClock.Instant

    init(
        lifetime: Duration, capacity: Int = 2000, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.lifetime = lifetime
        self.capacity = capacity
        self.now = now
    }

    /// The answer to `request`: from the cache while it is young enough, else `compute`'s.
    func answer(
        _ request: Directory.Search.Request, compute: @escaping @Sendable () async throws -> Directory.Search.Response
    ) async throws -> Directory.Search.Response {
        guard lifetime > .zero else { return try await compute() }
        let now = self.now()
        let plan = entries.withLock { entries -> Plan in
            var entry = entries[request] ?? Entry()
            if let answer = entry.answer, now - answer.asOf < lifetime {
                if now - answer.asOf >= lifetime / 2, entry.renewal == nil {
                    entry.renewal = renew(request, compute, asOf: now)
                    entries[request] = entry
                }
                return .serve(answer.response)
            }
            if let renewal = entry.renewal { return .wait(renewal) }
            if entries[request] == nil, entries.count >= capacity {
                entries = entries.filter { $0.value.renewal != nil || ($0.value.answer.map { now - $0.asOf < lifetime } ?? false) }
                if entries.count >= capacity { entries.removeAll() }
            }
            let renewal = renew(request, compute, asOf: now)
            entry.renewal = renewal
            entries[request] = entry
            return .wait(renewal)
        }
        switch plan {
        case .serve(let response): return response
        case .wait(let renewal): return try await renewal.value
        }
    }

    /// Computes `request` afresh and keeps the answer, as of `asOf`; a failure keeps nothing.
    private func renew(
        _ request: Directory.Search.Request, _ compute: @escaping @Sendable () async throws -> Directory.Search.Response,
        asOf: ContinuousClock.Instant
    ) -> Task<Directory.Search.Response, any Error> {
        Task {
            do {
                let response = try await compute()
                entries.withLock { $0[request] = Entry(answer: (response, asOf), renewal: nil) }
                return response
            } catch {
                entries.withLock { $0[request]?.renewal = nil }
                throw error
            }
        }
    }
}
