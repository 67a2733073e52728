import Foundation
import Models
import ServiceKit
import Store

/// The events of other services that become notices: a new account (a welcome email, when a
/// relay is configured), a reply on the boards (to the thread's author and to the people it
/// mentions), a favorite advisor online (the directory already keeps it to once per member and
/// advisor an hour).
enum NotificationsEvents {
    static func subscriptions(streams: StreamPushes, settings: NotificationsSettings) -> [EventSubscription] {
        [
            EventSubscription(producer: .accounts)
                .on(Accounts.AccountRegistered.self) { event, _, connection in
                    // Members and advisors are welcomed; staff accounts are made by an admin.
                    guard settings.relay != nil, [Role.member.rawValue, Role.advisor.rawValue].contains(event.role) else { return }
                    try plan(EmailTemplates.welcome.name, to: event.accountId, params: ["role": event.role], on: connection)
                },
            EventSubscription(producer: .boards)
                .on(Boards.Replied.self) { event, _, connection in
                    for recipient in event.recipients {
                        let text = recipient.why == "mention" ? "You were mentioned in a reply on the boards." : "Someone replied in your thread."
                        try notify(
                            recipient.accountId, of: .boardReply, text: text,
                            subject: ["threadId": event.threadId.uuidString, "postId": event.postId.uuidString, "board": event.board],
                            on: connection, streams: streams)
                    }
                },
            EventSubscription(producer: .directory)
                .on(Directory.FavoriteOnline.self) { event, _, connection in
                    try notify(
                        event.memberId, of: .favoriteOnline, text: "One of your favorite advisors is online now.",
                        subject: ["advisorId": event.advisorId.uuidString], on: connection, streams: streams)
                },
        ]
    }

    /// Puts a notice in `person`'s inbox unless they turned the kind's in-app channel off, and
    /// pushes it to their connected clients (a hint: it may leave before the commit).
    static func notify(
        _ person: UUID, of kind: Notifications.Kind, text: String, subject: [String: String], on connection: Connection,
        streams: StreamPushes
    ) throws {
        let off = try connection.queryOne(
            "SELECT 1 AS off FROM channel_settings WHERE account_id = $1 AND kind = $2 AND channel = 'inApp' AND NOT enabled", person, kind.name)
        guard off == nil else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard
            let row = try connection.queryOne(
                "INSERT INTO notices (id, account_id, kind, text, subject) VALUES ($1, $2, $3, $4, $5) RETURNING \(NotificationsHandlers.columns)",
                UUID(), person, kind.name, text, String(decoding: try encoder.encode(subject), as: UTF8.self))
        else { return }
        streams.send(StreamPush.Notification(try NotificationsHandlers.item(row)), to: [person])
    }

    /// Plans an email to `person`, due now, in the transaction that decided it.
    static func plan(_ kind: String, to person: UUID, params: [String: String], on connection: Connection) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try connection.execute(
            "INSERT INTO deliveries (id, account_id, kind, channel, params) VALUES ($1, $2, $3, 'email', $4)", UUID(), person, kind,
            String(decoding: try encoder.encode(params), as: UTF8.self))
    }
}
