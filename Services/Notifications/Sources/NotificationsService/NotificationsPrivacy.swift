import Foundation
import Models
import ServiceKit
import Store

/// What the notifications service holds about a person (their inbox, settings and deliveries),
/// and how it forgets them: all of it goes, pending deliveries included.
enum NotificationsPrivacy {
    static let hooks = PrivacyHooks(export: { request, connection in try export(request.accountId, on: connection) }, erase: erase)

    struct Section: Codable {
        struct Delivery: Codable {
            var kind: String
            var channel: String
            var status: String
            var createdAt: Date
            var sentAt: Date?
        }
        var settings: Notifications.Settings
        var inbox: [Notifications.Item]
        /// What was sent to them, or is to be, by email and SMS (not the messages themselves).
        var deliveries: [Delivery]
    }

    static func export(_ id: UUID, on connection: Connection) throws -> JSONValue {
        let section = Section(
            settings: try NotificationsHandlers.settings(of: id, on: connection),
            inbox: try connection.query("SELECT \(NotificationsHandlers.columns) FROM notices WHERE account_id = $1 ORDER BY seq", id).map(
                NotificationsHandlers.item),
            deliveries: try connection.query(
                "SELECT kind, channel, status, created_at, sent_at FROM deliveries WHERE account_id = $1 ORDER BY created_at", id
            ).map {
                Section.Delivery(
                    kind: try $0.decode("kind"), channel: try $0.decode("channel"), status: try $0.decode("status"),
                    createdAt: try $0.decode("created_at"), sentAt: try $0.decode("sent_at"))
            })
        return try JSONValue(encoding: section)
    }

    static func erase(_ id: UUID, on connection: Connection) throws {
        try connection.execute("DELETE FROM notices WHERE account_id = $1", id)
        try connection.execute("DELETE FROM channel_settings WHERE account_id = $1", id)
        try connection.execute("DELETE FROM quiet_hours WHERE account_id = $1", id)
        // Pending deliveries are cancelled with the rest.
        try connection.execute("DELETE FROM deliveries WHERE account_id = $1", id)
        try connection.execute("DELETE FROM undeliverable_addresses WHERE account_id = $1", id)
    }
}
