import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Giving advisors back to the directory once their chat is over: right after the chat ends, and
/// again every second for any the directory did not confirm (it was unreachable, or this process
/// stopped in between), so no advisor stays busy after their chat.
enum ChatRelease {
    static func release(_ chatId: UUID, database: Database, bus: BusClient, logger: Logger) async {
        do {
            let pending = try await database.withConnection { connection in
                try connection.queryOne(
                    "SELECT advisor_id, release_to FROM chats WHERE id = $1 AND release_to IS NOT NULL AND released_at IS NULL",
                    chatId)
            }
            guard let pending, let advisor: UUID = try pending.decode("advisor_id"),
                let to = Directory.Status(rawValue: try pending.decode("release_to"))
            else { return }
            _ = try await bus.call(Directory.Engage.self, .init(advisorId: advisor, to: to), as: .system)
            _ = try await database.withConnection { connection in
                try connection.execute("UPDATE chats SET released_at = now() WHERE id = $1", chatId)
            }
        } catch {
            logger.warning("advisor not given back yet", metadata: ["chat.id": "\(chatId)", "error": "\(error)"])
        }
    }

    static func task(bus: BusClient, logger: Logger) -> MaintenanceTask {
        MaintenanceTask(name: "chat.release-advisors", interval: .seconds(1)) { database in
            let chats = try await database.withConnection { connection in
                try connection.query(
                    "SELECT id FROM chats WHERE release_to IS NOT NULL AND released_at IS NULL ORDER BY ended_at LIMIT 100"
                ).map { try $0.decode("id", as: UUID.self) }
            }
            for chat in chats { await release(chat, database: database, bus: bus, logger: logger) }
            return chats.count
        }
    }
}

/// A chat asked for and not accepted in time expires: the member is told (the event), and the
/// advisor is set offline, as a missed request is on live-advice platforms.
enum ChatExpiry {
    static func task(bus: BusClient, logger: Logger) -> MaintenanceTask {
        MaintenanceTask(name: "chat.expire-requests", interval: .seconds(1)) { database in
            let expired = try await database.transaction { connection -> [UUID] in
                let rows = try connection.query(
                    """
                    SELECT \(ChatHandlers.chatColumns) FROM chats WHERE status = 'requested' AND expires_at <= now()
                    ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED
                    """)
                for chat in rows {
                    try ChatHandlers.close(chat, status: "expired", reason: "expired", releaseTo: "offline", on: connection)
                }
                return try rows.map { try $0.decode("id", as: UUID.self) }
            }
            for chat in expired { await ChatRelease.release(chat, database: database, bus: bus, logger: logger) }
            return expired.count
        }
    }
}
