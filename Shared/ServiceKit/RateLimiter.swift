public import Foundation
import Synchronization

/// Requests per key per minute, as a token bucket per key (bursts up to the minute's count, then
/// the steady rate): a partner key's calls, a client address's starts of a social sign-in. Each
/// instance counts its own: behind a load balancer the rate a key gets is this one times the
/// instances, which the README says.
public final class RateLimiter<Key: Hashable & Sendable>: Sendable {
    private struct Bucket {
        var tokens: Double
        var at: ContinuousClock.Instant
    }

    private let perMinute: Double
    private let buckets = Mutex<[Key: Bucket]>([:])
    private let clock = ContinuousClock()

    public init(perMinute: Int) {
        self.perMinute = Double(perMinute)
    }

    /// nil when the key may go on (a token taken); else the whole seconds until it may.
    public func take(_ key: Key) -> Int? {
        let now = clock.now
        let perSecond = perMinute / 60
        return buckets.withLock { buckets in
            // Keys idle long enough to be full again hold nothing worth keeping.
            if buckets.count > 10_000 {
                buckets = buckets.filter { $0.value.at.duration(to: now) < .seconds(60) }
            }
            var bucket = buckets[key] ?? Bucket(tokens: perMinute, at: now)
            let elapsed = bucket.at.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(perMinute, bucket.tokens + seconds * perSecond)
            bucket.at = now
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }
}
