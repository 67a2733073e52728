import Bus
import Foundation
import Models
import Synchronization

/// A signed-in person as accounts described their token.
struct Session: Sendable, Equatable {
    /// The token itself, for sign-out and for the session that stays when the password changes.
    let token: String
    let accountId: UUID
    let roles: Set<Role>
    let expiresAt: Date
    let acceptedPolicyVersion: String?
    let currentPolicyVersion: String

    /// A newer policy is in force than the one the person accepted last.
    var needsPolicyAcceptance: Bool { acceptedPolicyVersion != currentPolicyVersion }
}

/// Resolves session tokens through `accounts.authenticate`, remembering a positive answer for a
/// short while only, so a revoked token stops working within `lifetime` on every gateway; a
/// sign-out through this gateway forgets its token at once. Refusals are never remembered.
final class SessionCache: Sendable {
    private struct Entry {
        let session: Session
        let fetchedAt: ContinuousClock.Instant
    }

    private let bus: BusClient
    private let lifetime: Duration
    private let entries = Mutex<[String: Entry]>([:])
    /// Beyond this many entries, stale ones are swept before a new one is added.
    private let sweepThreshold = 10_000
    /// The current policy's answer, which every session check may show to be outdated.
    let policies: PolicyCache

    init(bus: BusClient, lifetime: Duration = .seconds(2)) {
        self.bus = bus
        self.lifetime = lifetime
        self.policies = PolicyCache(bus: bus, lifetime: lifetime)
    }

    /// The session `token` opens; throws `unauthenticated` when it opens none, or the bus's error.
    func session(for token: String) async throws -> Session {
        let now = ContinuousClock.now
        if let entry = entries.withLock({ $0[token] }), entry.fetchedAt.duration(to: now) < lifetime,
            entry.session.expiresAt > Date()
        {
            return entry.session
        }
        let answer: Accounts.Authenticate.Response
        do {
            answer = try await bus.call(Accounts.Authenticate.self, .init(token: token), as: .anonymous)
        } catch let error as ServiceError where error.code == .unauthenticated {
            forget(token)
            throw error
        }
        policies.noteCurrent(answer.currentPolicyVersion)
        let session = Session(
            token: token, accountId: answer.accountId, roles: Set(answer.roles.map(Role.init(rawValue:))),
            expiresAt: answer.expiresAt, acceptedPolicyVersion: answer.acceptedPolicyVersion,
            currentPolicyVersion: answer.currentPolicyVersion)
        let lifetime = self.lifetime
        entries.withLock { table in
            if table.count >= sweepThreshold {
                table = table.filter { $0.value.fetchedAt.duration(to: now) < lifetime }
            }
            table[token] = Entry(session: session, fetchedAt: now)
        }
        return session
    }

    /// Forgets `token`, after a sign-out, an erasure or a policy acceptance through this gateway.
    func forget(_ token: String) {
        _ = entries.withLock { $0.removeValue(forKey: token) }
    }
}

/// The current privacy policy (`accounts.current-policy`), kept a short while: it changes only when
/// staff publish a version, and every anonymous page asks for it. A cached answer goes at once when
/// a session check names another current version, or a version is published through this gateway;
/// otherwise a new version shows within `lifetime` on every gateway, as a revoked session stops.
final class PolicyCache: Sendable {
    private struct Entry {
        let json: Data
        let version: String
        let fetchedAt: ContinuousClock.Instant
    }

    private struct Version: Decodable {
        var version: String
    }

    private let bus: BusClient
    private let lifetime: Duration
    private let entry = Mutex<Entry?>(nil)

    init(bus: BusClient, lifetime: Duration) {
        self.bus = bus
        self.lifetime = lifetime
    }

    /// The answer as accounts gives it (`{version, effectiveDate}`), and its version.
    func current() async throws -> (json: Data, version: String) {
        let now = ContinuousClock.now
        if let cached = entry.withLock({ $0 }), cached.fetchedAt.duration(to: now) < lifetime {
            return (cached.json, cached.version)
        }
        let json = try await bus.callReturningJSON(Accounts.CurrentPolicy.self, Empty(), as: .anonymous)
        let version = try JSONDecoder().decode(Version.self, from: json).version
        entry.withLock { $0 = Entry(json: json, version: version, fetchedAt: now) }
        return (json, version)
    }

    /// A session check said `version` is current: an answer naming another is forgotten.
    func noteCurrent(_ version: String) {
        entry.withLock { cached in
            if let known = cached, known.version != version { cached = nil }
        }
    }

    func forget() {
        entry.withLock { $0 = nil }
    }
}
