import Foundation
import Models
import ServiceKit
import Store

/// Favorites: a member keeps advisors at hand and may ask to hear when one comes online.
extension DirectoryHandlers {
    static func memberId(of caller: Caller) throws -> UUID {
        guard let id = caller.accountId else { throw unauthenticated }
        guard caller.has(.member) else { throw ServiceError(.forbidden, "only members keep favorites") }
        return id
    }

    func setFavorite(_ request: Directory.SetFavorite.Request, caller: Caller) async throws -> Directory.Favorite {
        let memberId = try Self.memberId(of: caller)
        let records = self.records
        return try await database.transaction { connection in
            guard try connection.queryOne("SELECT 1 FROM advisors WHERE account_id = $1 AND listed", request.advisorId) != nil
            else { throw Self.noSuchAdvisor }
            try connection.execute(
                """
                INSERT INTO favorites (member_id, advisor_id, notify_when_online) VALUES ($1, $2, $3)
                ON CONFLICT (member_id, advisor_id) DO UPDATE SET notify_when_online = excluded.notify_when_online
                """, memberId, request.advisorId, request.notifyWhenOnline)
            let rows = try Self.favoriteRows(of: memberId, advisorId: request.advisorId, records: records, on: connection)
            guard let row = rows.first else { throw Self.noSuchAdvisor }
            return try Self.favorite(row, records: records)
        }
    }

    func removeFavorite(_ request: Directory.RemoveFavorite.Request, caller: Caller) async throws -> Empty {
        let memberId = try Self.memberId(of: caller)
        try await database.withConnection { connection in
            _ = try connection.execute(
                "DELETE FROM favorites WHERE member_id = $1 AND advisor_id = $2", memberId, request.advisorId)
        }
        return Empty()
    }

    func favorites(_ page: PageRequest, caller: Caller) async throws -> Page<Directory.Favorite> {
        let memberId = try Self.memberId(of: caller)
        let cursor = try PageCursor(page)
        let records = self.records
        return try await database.withConnection { connection in
            let rows = try Self.favoriteRows(
                of: memberId, before: cursor.before, limit: cursor.limit + 1, records: records, on: connection)
            return try cursor.page(rows) { try Self.favorite($0, records: records) }
        }
    }

    static func favoriteRows(
        of memberId: UUID, advisorId: UUID? = nil, before: Int64 = Int64.max, limit: Int = 1, records: AdvisorRecords,
        on connection: Connection
    ) throws -> [Row] {
        try connection.query(
            """
            SELECT \(records.summaryColumns), f.notify_when_online, f.created_at AS favorited_at, f.seq
            FROM favorites f JOIN advisors a ON a.account_id = f.advisor_id
            WHERE f.member_id = $1 AND ($2::uuid IS NULL OR f.advisor_id = $2::uuid) AND f.seq < $3
            ORDER BY f.seq DESC LIMIT $4
            """, memberId, advisorId, before, limit)
    }

    static func favorite(_ row: Row, records: AdvisorRecords) throws -> Directory.Favorite {
        Directory.Favorite(
            advisor: try records.summary(row), notifyWhenOnline: try row.decode("notify_when_online"),
            createdAt: try row.decode("favorited_at"))
    }
}
