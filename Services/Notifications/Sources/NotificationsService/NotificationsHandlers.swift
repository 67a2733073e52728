import Foundation
import Logging
import Models
import ServiceKit
import Store

/// A person's inbox and settings: each person reads and changes only their own.
struct NotificationsHandlers: Sendable {
    let database: Database
    let logger: Logger

    // MARK: Partners

    /// Plans an email to a partner's contact (the platform only); the same key twice plans one.
    func partnerNotice(_ request: Notifications.PartnerNotice.Request, caller: Caller) async throws -> Empty {
        guard caller.has(.system) else { throw ServiceError(.forbidden, "partner notices are the platform's") }
        guard request.kind == Notifications.PartnerNotice.webhookEndpointDisabled, (1...200).contains(request.key.utf8.count)
        else { throw ServiceError(.validationFailed, "not a partner notice the platform sends") }
        try await database.withConnection { connection in
            try connection.execute(
                """
                INSERT INTO deliveries (id, partner_id, kind, channel, params, notice_key) VALUES ($1, $2, $3, 'email', $4, $5)
                ON CONFLICT (notice_key) WHERE notice_key IS NOT NULL DO NOTHING
                """, UUID(), request.partnerId, request.kind, try NotificationsEvents.encoded(request.params), request.key)
        }
        logger.info("partner notice planned", metadata: ["partner.id": "\(request.partnerId)", "notifications.kind": "\(request.kind)"])
        return Empty()
    }

    // MARK: The inbox

    func inbox(_ request: Notifications.Inbox.Request, caller: Caller) async throws -> Page<Notifications.Item> {
        let me = try Self.signedIn(caller)
        let cursor = try PageCursor(request.page)
        let rows = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT \(Self.columns) FROM notices
                WHERE account_id = $1 AND seq < $2 \(request.unreadOnly ? "AND read_at IS NULL" : "")
                ORDER BY seq DESC LIMIT $3
                """, me, cursor.before, cursor.limit + 1)
        }
        return try cursor.page(rows, Self.item)
    }

    func markRead(_ request: Notifications.MarkRead.Request, caller: Caller) async throws -> Notifications.MarkRead.Response {
        let me = try Self.signedIn(caller)
        var rules = FieldRules()
        switch (request.ids, request.all) {
        case (let ids?, nil):
            if !(1...Notifications.MarkRead.maxIds).contains(ids.count) { rules.fail("ids", "invalid") }
        case (nil, true?):
            break
        default:
            rules.fail("ids", "required")
        }
        try rules.check()
        let marked = try await database.withConnection { connection in
            if let ids = request.ids {
                return try connection.execute(
                    "UPDATE notices SET read_at = now() WHERE account_id = $1 AND read_at IS NULL AND id = ANY($2::uuid[])", me, ids)
            }
            return try connection.execute("UPDATE notices SET read_at = now() WHERE account_id = $1 AND read_at IS NULL", me)
        }
        return .init(marked: marked)
    }

    static let columns = "id, seq, kind, text, subject, created_at, read_at"

    static func item(_ row: Row) throws -> Notifications.Item {
        let subject = try JSONDecoder().decode([String: String].self, from: Data(try row.decode("subject", as: String.self).utf8))
        return Notifications.Item(
            id: try row.decode("id"), kind: try row.decode("kind"), text: try row.decode("text"), subject: subject,
            createdAt: try row.decode("created_at"), readAt: try row.decode("read_at"))
    }

    // MARK: Settings

    func settings(caller: Caller) async throws -> Notifications.Settings {
        let me = try Self.signedIn(caller)
        return try await database.withConnection { connection in try Self.settings(of: me, on: connection) }
    }

    func replaceSettings(_ request: Notifications.Settings, caller: Caller) async throws -> Notifications.Settings {
        let me = try Self.signedIn(caller)
        try Self.check(request)
        return try await database.transaction { connection in
            try connection.execute("DELETE FROM channel_settings WHERE account_id = $1", me)
            for setting in request.kinds {
                for (channel, enabled) in setting.channels where !enabled {
                    try connection.execute(
                        "INSERT INTO channel_settings (account_id, kind, channel, enabled) VALUES ($1, $2, $3, false)", me, setting.kind,
                        channel)
                }
            }
            try connection.execute("DELETE FROM quiet_hours WHERE account_id = $1", me)
            if let quiet = request.quietHours {
                try connection.execute(
                    "INSERT INTO quiet_hours (account_id, starts, ends, time_zone) VALUES ($1, $2, $3, $4)", me, quiet.start, quiet.end,
                    quiet.timeZone)
            }
            return try Self.settings(of: me, on: connection)
        }
    }

    /// Every kind with each of its channels, on unless the person turned it off.
    static func settings(of person: UUID, on connection: Connection) throws -> Notifications.Settings {
        var off = Set<String>()
        for row in try connection.query("SELECT kind, channel FROM channel_settings WHERE account_id = $1 AND NOT enabled", person) {
            off.insert("\(try row.decode("kind", as: String.self))/\(try row.decode("channel", as: String.self))")
        }
        let kinds = Notifications.Kind.all.map { kind in
            Notifications.Settings.KindSetting(
                kind: kind.name,
                channels: Dictionary(uniqueKeysWithValues: kind.channels.map { ($0.rawValue, !off.contains("\(kind.name)/\($0.rawValue)")) }),
                required: kind.required.map(\.rawValue))
        }
        let quiet = try connection.queryOne("SELECT starts, ends, time_zone FROM quiet_hours WHERE account_id = $1", person).map {
            Notifications.Settings.QuietHours(start: try $0.decode("starts"), end: try $0.decode("ends"), timeZone: try $0.decode("time_zone"))
        }
        return .init(kinds: kinds, quietHours: quiet)
    }

    /// 422 naming each field that is not a known kind, a channel of its kind, a channel that may
    /// be turned off (`required` for one that may not), or a quiet-hours value.
    static func check(_ settings: Notifications.Settings) throws {
        var rules = FieldRules()
        var seen = Set<String>()
        for (index, setting) in settings.kinds.enumerated() {
            guard let kind = Notifications.Kind.named(setting.kind), seen.insert(setting.kind).inserted else {
                rules.fail("kinds.\(index).kind", "invalid")
                continue
            }
            for (channel, enabled) in setting.channels.sorted(by: { $0.key < $1.key }) {
                guard let known = Notifications.Channel(rawValue: channel), kind.channels.contains(known) else {
                    rules.fail("kinds.\(index).channels.\(channel.prefix(32))", "invalid")
                    continue
                }
                if !enabled, kind.required.contains(known) { rules.fail("kinds.\(index).channels.\(channel)", "required") }
            }
        }
        if let quiet = settings.quietHours {
            if !isClockTime(quiet.start) { rules.fail("quietHours.start", "invalid") }
            if !isClockTime(quiet.end) { rules.fail("quietHours.end", "invalid") }
            if quiet.start == quiet.end { rules.fail("quietHours.end", "invalid") }
            if !isTimeZone(quiet.timeZone) { rules.fail("quietHours.timeZone", "invalid") }
        }
        try rules.check()
    }

    /// An IANA time zone name: Foundation's list of them (which leaves out `UTC` and the `Etc/`
    /// zones, IANA names too), never an abbreviation such as `EST`.
    static func isTimeZone(_ name: String) -> Bool {
        TimeZone.knownTimeZoneIdentifiers.contains(name) || ((name == "UTC" || name.hasPrefix("Etc/")) && TimeZone(identifier: name) != nil)
    }

    /// "HH:MM" on a 24-hour clock.
    static func isClockTime(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }),
            let hours = Int(parts[0]), let minutes = Int(parts[1])
        else { return false }
        return (0...23).contains(hours) && (0...59).contains(minutes)
    }

    private static func signedIn(_ caller: Caller) throws -> UUID {
        guard let id = caller.accountId else { throw ServiceError(.unauthenticated, "sign in first") }
        return id
    }
}
