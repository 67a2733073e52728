import Foundation
import Models
import ServiceKit
import Store

/// The events of other services that become notices: a new account (a welcome email, when a
/// relay is configured), a security notice (in the app, and always by email), a reply on the boards (to the thread's author and to the people it
/// mentions), a favorite advisor online (the directory already keeps it to once per member and
/// advisor an hour: in the app at once, by email in a digest after quiet hours).
enum NotificationsEvents {
    static func subscriptions(streams: StreamPushes, settings: NotificationsSettings) -> [EventSubscription] {
        [
            EventSubscription(producer: .accounts)
                .on(Accounts.AccountRegistered.self) { event, _, connection in
                    // Members and advisors are welcomed; staff accounts are made by an admin.
                    guard settings.relay != nil, [Role.member.rawValue, Role.advisor.rawValue].contains(event.role) else { return }
                    try plan(EmailTemplates.welcome.name, to: event.accountId, params: ["role": event.role], on: connection)
                }
                .on(Accounts.SecurityNotice.self) { event, _, connection in
                    guard let text = securityTexts[event.what] else { return }
                    try notify(event.accountId, of: .securityNotice, text: text, subject: [:], on: connection, streams: streams)
                    // Always by email (it cannot be turned off), and to the address before a change too.
                    guard settings.relay != nil else { return }
                    try plan(EmailTemplates.securityNotice.name, to: event.accountId, params: ["what": event.what], on: connection)
                    if event.what == Accounts.SecurityNotice.emailChanged {
                        try plan(
                            EmailTemplates.securityNotice.name, to: event.accountId, params: ["what": event.what, "to": "previous"], on: connection)
                    }
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
                    if settings.relay != nil {
                        try planDigest(of: event.advisorId, for: event.memberId, window: settings.digestSeconds, on: connection)
                    }
                },
        ]
    }

    /// Puts a notice in `person`'s inbox unless they turned the kind's in-app channel off, and
    /// pushes it to their connected clients (a hint: it may leave before the commit).
    static func notify(
        _ person: UUID, of kind: Notifications.Kind, text: String, subject: [String: String], on connection: Connection,
        streams: StreamPushes
    ) throws {
        guard try !isOff(person, kind, .inApp, on: connection) else { return }
        guard
            let row = try connection.queryOne(
                "INSERT INTO notices (id, account_id, kind, text, subject) VALUES ($1, $2, $3, $4, $5) RETURNING \(NotificationsHandlers.columns)",
                UUID(), person, kind.name, text, try encoded(subject))
        else { return }
        streams.send(StreamPush.Notification(try NotificationsHandlers.item(row)), to: [person])
    }

    /// The in-app text of each security notice.
    static let securityTexts = [
        Accounts.SecurityNotice.newSignIn: "Someone signed in to your account from a new device or network. If it was not you, change your password.",
        Accounts.SecurityNotice.passwordChanged: "Your password was changed. If it was not you, contact us at once.",
        Accounts.SecurityNotice.emailChanged: "Your email address was changed. If it was not you, contact us at once.",
    ]

    /// Whether `person` turned `channel` off for `kind`.
    static func isOff(_ person: UUID, _ kind: Notifications.Kind, _ channel: Notifications.Channel, on connection: Connection) throws -> Bool {
        try connection.queryOne(
            "SELECT 1 AS off FROM channel_settings WHERE account_id = $1 AND kind = $2 AND channel = $3 AND NOT enabled", person, kind.name,
            channel.rawValue) != nil
    }

    /// Plans an email to `person`, due at `due`, in the transaction that decided it.
    static func plan(_ kind: String, to person: UUID, params: [String: String], due: Date = Date(), on connection: Connection) throws {
        try connection.execute(
            "INSERT INTO deliveries (id, account_id, kind, channel, params, due_at) VALUES ($1, $2, $3, 'email', $4, $5)", UUID(), person, kind,
            try encoded(params), due)
    }

    /// The most advisors one digest names.
    static let digestLimit = 20

    /// Adds `advisor` to `person`'s favorite-online digest that is still waiting, or plans one for
    /// `window` seconds from now, held by quiet hours: several advisors coming online make one email.
    static func planDigest(of advisor: UUID, for person: UUID, window: Int, on connection: Connection) throws {
        guard try !isOff(person, .favoriteOnline, .email, on: connection) else { return }
        if let waiting = try connection.queryOne(
            """
            SELECT id, params FROM deliveries
            WHERE account_id = $1 AND kind = 'favorite_online' AND channel = 'email' AND status = 'due' AND due_at > now() AND lease_until IS NULL
            ORDER BY due_at LIMIT 1 FOR UPDATE
            """, person)
        {
            var params = try JSONDecoder().decode([String: String].self, from: Data(try waiting.decode("params", as: String.self).utf8))
            var advisors = (params["advisorIds"] ?? "").split(separator: ",").map(String.init)
            guard !advisors.contains(advisor.uuidString), advisors.count < digestLimit else { return }
            advisors.append(advisor.uuidString)
            params["advisorIds"] = advisors.joined(separator: ",")
            try connection.execute("UPDATE deliveries SET params = $2 WHERE id = $1", try waiting.decode("id", as: UUID.self), try encoded(params))
            return
        }
        let quiet = try connection.queryOne("SELECT starts, ends, time_zone FROM quiet_hours WHERE account_id = $1", person).flatMap {
            QuietWindow(start: try $0.decode("starts"), end: try $0.decode("ends"), timeZone: try $0.decode("time_zone"))
        }
        let soonest = Date() + TimeInterval(window)
        try plan(
            EmailTemplates.favoriteOnline.name, to: person, params: ["advisorIds": advisor.uuidString], due: quiet?.release(soonest) ?? soonest,
            on: connection)
    }

    /// A text column's JSON object (a notice's subject, a delivery's parameters), keys sorted.
    private static func encoded(_ params: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(params), as: UTF8.self)
    }
}
