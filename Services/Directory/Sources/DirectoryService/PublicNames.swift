import Bus
import Foundation
import Models
import ServiceKit
import Store

/// The names the directory shows come from accounts by a call, never in an event: accounts keeps
/// every name sealed, and an event would leave it in clear in accounts' outbox for a week.
enum PublicNames {
    /// Asks accounts for every name the directory wants (new people, changed names), up to 500 a
    /// run; an account accounts no longer answers for (erased) keeps no name: "former member".
    static func refresh(bus: BusClient, every interval: Duration = .seconds(1)) -> MaintenanceTask {
        MaintenanceTask(name: "directory.refresh-names", interval: interval) { database in
            let wanted = try await database.withConnection { connection in
                try connection.query(
                    "SELECT account_id, name_requested FROM people WHERE name_requested > name_fetched LIMIT $1",
                    Accounts.PublicNames.maxAccounts
                ).map { (try $0.decode("account_id", as: UUID.self), try $0.decode("name_requested", as: Int64.self)) }
            }
            guard !wanted.isEmpty else { return 0 }
            let answer = try await bus.call(Accounts.PublicNames.self, .init(accountIds: wanted.map(\.0)), as: .system)
            let names = Dictionary(answer.names.map { ($0.accountId, $0.displayName) }) { first, _ in first }
            return try await database.transaction { connection in
                for (id, requested) in wanted {
                    let name = names[id]
                    let updated = try connection.execute(
                        """
                        UPDATE people SET display_name = coalesce($2, display_name), name_fetched = $3
                        WHERE account_id = $1 AND name_fetched < $3
                        """, id, name, requested)
                    if updated > 0, let name {
                        try connection.execute("UPDATE advisors SET display_name = $2 WHERE account_id = $1", id, name)
                    }
                }
                return wanted.count
            }
        }
    }

    /// Someone whose name the directory will show: registered, or renamed.
    static func want(_ accountId: UUID, role: String, on connection: Connection) throws {
        try connection.execute(
            """
            INSERT INTO people (account_id, role) VALUES ($1, $2)
            ON CONFLICT (account_id) DO UPDATE SET name_requested = people.name_requested + 1
            """, accountId, role)
    }
}
