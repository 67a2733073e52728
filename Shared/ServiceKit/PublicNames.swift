public import Bus
public import Foundation
import Models
import Synchronization

extension BusClient {
    /// The display names accounts gives for these people, asked as the platform; none for an
    /// erased account (and none is kept here: a rename shows at the next answer).
    public func publicNames(of ids: [UUID?]) async throws -> [UUID: String] {
        let wanted = Array(Set(ids.compactMap { $0 }))
        guard !wanted.isEmpty else { return [:] }
        let answer = try await call(Accounts.PublicNames.self, .init(accountIds: wanted), as: .system)
        return Dictionary(answer.names.map { ($0.accountId, $0.displayName) }) { first, _ in first }
    }
}

/// Public names kept for a short while, for a service that shows many people's names on pages
/// everyone reads (the boards): a page asks accounts only for the names it has not seen lately.
/// A rename shows within `lifetime`; an erased person's name is unreachable at once wherever the
/// service unlinks their rows (it no longer holds their id), and gone from here within `lifetime`.
public final class PublicNameCache: Sendable {
    private struct Entry {
        let name: String?
        let until: ContinuousClock.Instant
    }

    private let entries = Mutex<[UUID: Entry]>([:])
    private let lifetime: Duration
    private let capacity: Int

    public init(lifetime: Duration = .seconds(30), capacity: Int = 50_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The names of `ids` (none for an erased person): from here while fresh, the rest from accounts.
    public func names(of ids: [UUID?], bus: BusClient) async throws -> [UUID: String] {
        let now = ContinuousClock.now
        var names: [UUID: String] = [:]
        var missing: [UUID] = []
        entries.withLock { entries in
            for id in Set(ids.compactMap { $0 }) {
                if let entry = entries[id], entry.until > now {
                    if let name = entry.name { names[id] = name }
                } else {
                    missing.append(id)
                }
            }
        }
        guard !missing.isEmpty else { return names }
        let fetched = try await bus.publicNames(of: missing)
        let until = now.advanced(by: lifetime)
        entries.withLock { entries in
            if entries.count + missing.count > capacity { entries.removeAll(keepingCapacity: true) }
            for id in missing { entries[id] = Entry(name: fetched[id], until: until) }
        }
        return names.merging(fetched) { first, _ in first }
    }
}
