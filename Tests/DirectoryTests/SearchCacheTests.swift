@testable import DirectoryService
import Foundation
import Models
import Synchronization
import Testing

/// The directory's search cache: one computation for identical concurrent searches, answers never
/// older than the lifetime, renewed in the background in its second half, failures not kept.
struct SearchCacheTests {
    /// Counts computations; each answer names the computation that made it.
    final class Computations: Sendable {
        let count = Mutex(0)
        func compute(failing: Bool = false, delay: Duration = .zero) async throws -> Directory.Search.Response {
            let number = count.withLock { count -> Int in
                count += 1
                return count
            }
            try await Task.sleep(for: delay)
            if failing { throw ServiceError(.unavailable, "the database is away") }
            return Directory.Search.Response(items: [], nextCursor: "\(number)", facets: nil)
        }
    }

    @Test("identical searches at once are computed once; different ones each")
    func sharedComputation() async throws {
        let cache = SearchCache(lifetime: .seconds(5))
        let computations = Computations()
        let request = Directory.Search.Request(q: "tarot")
        let answers = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<20 {
                group.addTask { try await cache.answer(request) { try await computations.compute(delay: .milliseconds(50)) }.nextCursor }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(answers) == ["1"] && computations.count.withLock { $0 } == 1)
        _ = try await cache.answer(Directory.Search.Request(q: "astrology")) { try await computations.compute() }
        #expect(computations.count.withLock { $0 } == 2)
    }

    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        let start = ContinuousClock.now
        let offset = Mutex(Duration.zero)
        func now() -> ContinuousClock.Instant { start + offset.withLock { $0 } }
        func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
    }

    @Test("an answer is served as it is, then while it is renewed, and never past its lifetime")
    func freshness() async throws {
        let clock = ManualClock()
        let cache = SearchCache(lifetime: .milliseconds(400), now: clock.now)
        let computations = Computations()
        let request = Directory.Search.Request(category: "tarot")
        let ask = { try await cache.answer(request) { try await computations.compute() }.nextCursor }
        #expect(try await ask() == "1")
        clock.advance(.milliseconds(150))
        #expect(try await ask() == "1", "young: served as it is")
        #expect(computations.count.withLock { $0 } == 1)
        clock.advance(.milliseconds(100))
        #expect(try await ask() == "1", "in its second half: still served, while a renewal runs")
        // The renewal runs in the background; until it lands the old answer is still served.
        var answer = try await ask()
        for _ in 0..<500 where answer == "1" {
            await Task.yield()
            answer = try await ask()
        }
        #expect(answer == "2", "the renewal's answer")
        #expect(computations.count.withLock { $0 } == 2, "one renewal, however often it was asked meanwhile")
        clock.advance(.milliseconds(400))
        #expect(try await ask() == "3", "past its lifetime: computed afresh before answering")
    }

    @Test("a failed computation is not kept; a lifetime of zero computes every time")
    func failuresAndOff() async throws {
        let cache = SearchCache(lifetime: .seconds(5))
        let computations = Computations()
        let request = Directory.Search.Request(q: "moon")
        await #expect(throws: ServiceError.self) { try await cache.answer(request) { try await computations.compute(failing: true) } }
        #expect(try await cache.answer(request) { try await computations.compute() }.nextCursor == "2")
        let off = SearchCache(lifetime: .zero)
        _ = try await off.answer(request) { try await computations.compute() }
        _ = try await off.answer(request) { try await computations.compute() }
        #expect(computations.count.withLock { $0 } == 4)
    }
}
