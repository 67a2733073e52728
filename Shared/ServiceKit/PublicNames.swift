public import Bus
public import Foundation
import Models

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
