import Foundation
import Models
import ServiceKit
import Store

/// What the notifications service holds about a person (their inbox and settings), and how it
/// forgets them: all of it goes.
enum NotificationsPrivacy {
    static let hooks = PrivacyHooks(export: { request, connection in try export(request.accountId, on: connection) }, erase: erase)

    struct Section: Codable {
        var settings: Notifications.Settings
        var inbox: [Notifications.Item]
    }

    static func export(_ id: UUID, on connection: Connection) throws -> JSONValue {
        let section = Section(
            settings: try NotificationsHandlers.settings(of: id, on: connection),
            inbox: try connection.query("SELECT \(NotificationsHandlers.columns) FROM notices WHERE account_id = $1 ORDER BY seq", id).map(
                NotificationsHandlers.item))
        return try WireCoding.decoder().decode(JSONValue.self, from: try WireCoding.encoder().encode(section))
    }

    static func erase(_ id: UUID, on connection: Connection) throws {
        try connection.execute("DELETE FROM notices WHERE account_id = $1", id)
        try connection.execute("DELETE FROM channel_settings WHERE account_id = $1", id)
        try connection.execute("DELETE FROM quiet_hours WHERE account_id = $1", id)
    }
}
