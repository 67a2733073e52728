import Foundation
import Models
import Synchronization

/// Search answers kept for a moment (`DIRECTORY_SEARCH_CACHE_MILLISECONDS`, half a second by
/// default), so that a popular search under load is computed once per moment, not once per
/// request: a search reads thousands of profiles to count its facets, and the same first page is
/// what most people ask for. Concurrent identical searches wait for the one computation. The
/// answers are public (they do not depend on who asks), and a status change still shows within
/// the moment plus the search itself, well inside the second the directory promises.
final class SearchCache: Sendable {
    private struct Entry {
        let answer: Task<Directory.Search.Response, any Error>
        let expires: ContinuousClock.Instant
    }

    private let lifetime: Duration
    private let capacity: Int
    private let entries = Mutex<[Directory.Search.Request: Entry]>([:])

    init(lifetime: Duration, capacity: Int = 2000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The answer to `request`: a live one from the cache, else `compute`'s, shared with every
    /// identical request that comes while it runs. A failure is not kept.
    func answer(
        _ request: Directory.Search.Request, compute: @escaping @Sendable () async throws -> Directory.Search.Response
    ) async throws -> Directory.Search.Response {
        guard lifetime > .zero else { return try await compute() }
        let now = ContinuousClock.now
        let entry = entries.withLock { entries -> Entry in
            if let entry = entries[request], entry.expires > now { return entry }
            if entries.count >= capacity { entries = entries.filter { $0.value.expires > now } }
            if entries.count >= capacity { entries.removeAll() }
            let entry = Entry(answer: Task { try await compute() }, expires: now + lifetime)
            entries[request] = entry
            return entry
        }
        do {
            return try await entry.answer.value
        } catch {
            entries.withLock { entries in
                if entries[request]?.expires == entry.expires { entries[request] = nil }
            }
            throw error
        }
    }
}
