import Foundation
import Models
import ServiceKit
import Store

/// The events of other services that become notices: a new account (a welcome email, when a
/// relay is configured), a security notice (in the app, and always by email), a reply on the boards (to the thread's author and to the people it
/// mentions), a favorite advisor online (the directory already keeps it to once per member and
/// advisor an hour: in the app at once, by email in a digest after quiet hours), a chat request
/// (in the app, and by text to an advisor who is not connected).
enum NotificationsEvents {
    static func subscriptions(streams: StreamPushes, settings: NotificationsSettings) -> [EventSubscription] {
        [
            EventSubscription(producer: .accounts)
                .on(Accounts.AccountRegistered.self) { event, _, connection in
                    // Members and advisors are welcomed; staff accounts are made by an admin.
                    guard settings.relay != nil, [Role.member.rawValue, Role.advisor.rawValue].contains(event.role) else { return }
                    try plan(EmailTemplates.welcome.name, to: event.accountId, params: ["role": event.role], on: connection)
                }
                .on(Accounts.PolicyPublished.self) { event, _, connection in try Campaigns.policyPublished(event, on: connection) }
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
            EventSubscription(producer: .chat)
                .on(Chat.Requested.self) { event, _, connection in
                    // Urgent: quiet hours do not hold it. The text goes only if the advisor is not
                    // connected when it leaves (TextSender), and not after the request expires;
                    // one read late (a replay, an outage) tells nobody.
                    guard event.expiresAt > Date() else { return }
                    try notify(
                        event.advisorId, of: .chatRequest, text: "A member is asking you for a chat. Accept it within a minute.",
                        subject: ["chatId": event.chatId.uuidString], on: connection, streams: streams)
                    guard try !isOff(event.advisorId, .chatRequest, .sms, on: connection) else { return }
                    try plan(
                        Notifications.Kind.chatRequest.name, to: event.advisorId,
                        params: ["chatId": event.chatId.uuidString, "expiresAt": "\(event.expiresAt.timeIntervalSince1970)"], channel: .sms,
                        on: connection)
                },
            EventSubscription(producer: .billing)
                .on(Billing.MoneyNotice.self) { event, _, connection in
                    guard let notice = MoneyNotices.notice(event) else { return }
                    try tell(event.accountId, notice, subject: [:], settings: settings, on: connection, streams: streams)
                },
            EventSubscription(producer: .directory)
                .on(Directory.ReviewReceived.self) { event, _, connection in
                    let stars = String(repeating: "★", count: max(1, min(5, event.rating)))
                    let notice = PlainNotice(
                        kind: .reviewReceived, inApp: "You have a new review: \(stars).", subject: "A member reviewed you",
                        text: "A member reviewed your chat with them: \(stars) (\(event.rating) of 5). Read it, and reply if you like, on your profile.")
                    try tell(
                        event.advisorId, notice, subject: ["advisorId": event.advisorId.uuidString, "reviewId": event.reviewId.uuidString],
                        settings: settings, on: connection, streams: streams)
                }
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

    /// A notice told in the app and by email in a subject and a paragraph or two.
    struct PlainNotice {
        let kind: Notifications.Kind
        let inApp: String
        let subject: String
        let text: String
    }

    /// Puts `notice` in the person's inbox and, unless they turned its email off, plans its email,
    /// held by their quiet hours.
    static func tell(
        _ person: UUID, _ notice: PlainNotice, subject: [String: String], settings: NotificationsSettings, on connection: Connection,
        streams: StreamPushes
    ) throws {
        try notify(person, of: notice.kind, text: notice.inApp, subject: subject, on: connection, streams: streams)
        guard settings.relay != nil, try !isOff(person, notice.kind, .email, on: connection) else { return }
        let now = Date()
        try plan(
            notice.kind.name, to: person, params: ["subject": notice.subject, "text": notice.text],
            due: try quietWindow(of: person, on: connection)?.release(now) ?? now, on: connection)
    }

    /// The person's quiet hours, if they set some.
    static func quietWindow(of person: UUID, on connection: Connection) throws -> QuietWindow? {
        try connection.queryOne("SELECT starts, ends, time_zone FROM quiet_hours WHERE account_id = $1", person).flatMap {
            QuietWindow(start: try $0.decode("starts"), end: try $0.decode("ends"), timeZone: try $0.decode("time_zone"))
        }
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

    /// Plans an email (or a text) to `person`, due at `due`, in the transaction that decided it.
    static func plan(
        _ kind: String, to person: UUID, params: [String: String], due: Date = Date(), channel: Notifications.Channel = .email,
        on connection: Connection
    ) throws {
        try connection.execute(
            "INSERT INTO deliveries (id, account_id, kind, channel, params, due_at) VALUES ($1, $2, $3, $4, $5, $6)", UUID(), person, kind,
            channel.rawValue, try encoded(params), due)
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
        let quiet = try quietWindow(of: person, on: connection)
        let soonest = Date() + TimeInterval(window)
        try plan(
            EmailTemplates.favoriteOnline.name, to: person, params: ["advisorIds": advisor.uuidString], due: quiet?.release(soonest) ?? soonest,
            on: connection)
    }

    /// A text column's JSON object (a notice's subject, a delivery's parameters), keys sorted.
    static func encoded(_ params: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(params), as: UTF8.self)
    }
}

/// What billing's money events say to the person.
enum MoneyNotices {
    static func amount(_ cents: Int) -> String { (cents < 0 ? "-" : "") + String(format: "$%d.%02d", abs(cents) / 100, abs(cents) % 100) }

    static func notice(_ event: Billing.MoneyNotice) -> NotificationsEvents.PlainNotice? {
        let amount = amount(event.amountCents)
        switch event.what {
        case Billing.MoneyNotice.topUpSucceeded:
            return .init(
                kind: .topUpReceipt, inApp: "\(amount) was added to your wallet.", subject: "Your receipt: \(amount) added to your wallet",
                text: "\(amount) was added to your Advisor Platform wallet from your card. Your wallet's statement lists it.")
        case Billing.MoneyNotice.refundApproved:
            return .init(
                kind: .refundDecided, inApp: "Your refund of \(amount) was approved.", subject: "Your refund was approved",
                text: "Your refund of \(amount) was approved and is back in your wallet.")
        case Billing.MoneyNotice.refundDeclined:
            return .init(
                kind: .refundDecided, inApp: "Your refund request was declined.", subject: "About your refund request",
                text: "Your refund request was declined under our satisfaction guarantee's rules. Your wallet's refunds list tells why.")
        case Billing.MoneyNotice.payoutPaid:
            return .init(
                kind: .payoutSent, inApp: "Your payout of \(amount) was sent.", subject: "Your payout of \(amount) was sent",
                text: "Your payout of \(amount) was sent to your bank account. Your earnings list it.")
        case Billing.MoneyNotice.lowBalance:
            return .init(
                kind: .lowBalance, inApp: "Your wallet is running low: \(amount) left.", subject: "Your wallet is running low",
                text: "Your wallet has \(amount) left. Add money before your next chat so it is not paused.")
        default:
            return nil
        }
    }
}
