import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Giving advisors back to the directory once their chat is over: right after the chat ends, and
/// again every second for any the directory did not confirm (it was unreachable, or this process
/// stopped in between), so no advisor stays busy after their chat. Once given back, both sides
/// are told on the stream (`chat.declined` or `chat.ended`), whichever way the chat ended.
enum ChatRelease {
    static func release(_ chatId: UUID, database: Database, bus: BusClient, streams: StreamPushes, logger: Logger) async {
        do {
            let pending = try await database.withConnection { connection in
                try connection.queryOne(
                    """
                    SELECT member_id, advisor_id, release_to, status, end_reason, minutes_started FROM chats
                    WHERE id = $1 AND release_to IS NOT NULL AND released_at IS NULL
                    """, chatId)
            }
            guard let pending else { return }
            // An advisor erased meanwhile, or a profile gone from the directory: nobody to give back.
            if let advisor: UUID = try pending.decode("advisor_id"),
                let to = Directory.Status(rawValue: try pending.decode("release_to"))
            {
                do {
                    _ = try await bus.call(Directory.Engage.self, .init(advisorId: advisor, chatId: chatId, to: to), as: .system)
                } catch let error as ServiceError where error.code == .notFound {}
            }
            _ = try await database.withConnection { connection in
                try connection.execute("UPDATE chats SET released_at = now() WHERE id = $1", chatId)
            }
            let people = [try pending.decode("member_id", as: UUID?.self), try pending.decode("advisor_id", as: UUID?.self)]
            if try pending.decode("status", as: String.self) == "declined" {
                await streams.push(StreamPush.ChatAnswered.declined(chatId), to: people)
            } else {
                await streams.push(
                    StreamPush.ChatEnded(
                        chatId: chatId, reason: try pending.decode("end_reason", as: String?.self) ?? "ended",
                        minutes: try pending.decode("minutes_started")), to: people)
            }
        } catch {
            logger.warning("advisor not given back yet", metadata: ["chat.id": "\(chatId)", "error": "\(error)"])
        }
    }

    static func task(bus: BusClient, streams: StreamPushes, logger: Logger) -> MaintenanceTask {
        MaintenanceTask(name: "chat.release-advisors", interval: .seconds(1)) { database in
            let chats = try await database.withConnection { connection in
                try connection.query(
                    "SELECT id FROM chats WHERE release_to IS NOT NULL AND released_at IS NULL ORDER BY ended_at LIMIT 100"
                ).map { try $0.decode("id", as: UUID.self) }
            }
            for chat in chats { await release(chat, database: database, bus: bus, streams: streams, logger: logger) }
            return chats.count
        }
    }
}

/// A chat asked for and not accepted in time expires: the member is told (the event), and the
/// advisor is set offline, as a missed request is on live-advice platforms.
enum ChatExpiry {
    static func task(bus: BusClient, streams: StreamPushes, logger: Logger) -> MaintenanceTask {
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
            for chat in expired { await ChatRelease.release(chat, database: database, bus: bus, streams: streams, logger: logger) }
            return expired.count
        }
    }
}

/// The clock of active chats: each started minute is announced once (`chat.minute-started.v1`,
/// which billing charges), and a chat where both sides stayed silent for `CHAT_SILENCE_SECONDS`
/// ends (`timeout`).
enum ChatClock {
    static func task(silenceSeconds: Int, bus: BusClient, streams: StreamPushes, logger: Logger) -> MaintenanceTask {
        MaintenanceTask(name: "chat.clock", interval: .seconds(1)) { database in
            let (announced, silent) = try await database.transaction { connection -> (Int, [UUID]) in
                let due = try connection.query(
                    """
                    SELECT \(ChatHandlers.chatColumns), floor(extract(epoch FROM now() - accepted_at) / 60)::int + 1 AS due,
                        last_activity_at < now() - make_interval(secs => $1::int) AS silent
                    FROM chats WHERE status = 'active'
                        AND (floor(extract(epoch FROM now() - accepted_at) / 60)::int + 1 > minutes_started
                             OR last_activity_at < now() - make_interval(secs => $1::int))
                    ORDER BY accepted_at LIMIT 500 FOR UPDATE SKIP LOCKED
                    """, silenceSeconds)
                var announced = 0
                var silent: [UUID] = []
                for chat in due {
                    let chatId: UUID = try chat.decode("id")
                    if try chat.decode("silent", as: Bool.self) {
                        try ChatHandlers.close(chat, status: "ended", reason: "timeout", releaseTo: "online", on: connection)
                        silent.append(chatId)
                        continue
                    }
                    let started: Int = try chat.decode("minutes_started")
                    let now: Int = try chat.decode("due")
                    guard let member: UUID = try chat.decode("member_id"), let advisor: UUID = try chat.decode("advisor_id") else {
                        continue
                    }
                    for minute in (started + 1)...now {
                        try Outbox.append(
                            Chat.MinuteStarted(
                                chatId: chatId, memberId: member, advisorId: advisor, minute: minute,
                                pricePerMinuteCents: try chat.decode("price_cents"), at: Date()), on: connection)
                        announced += 1
                    }
                    try connection.execute("UPDATE chats SET minutes_started = $2 WHERE id = $1", chatId, now)
                }
                return (announced, silent)
            }
            for chat in silent { await ChatRelease.release(chat, database: database, bus: bus, streams: streams, logger: logger) }
            return announced + silent.count
        }
    }

    /// Billing's word that a member's funds ran out ends the chat (`funds_exhausted`; the release
    /// task gives the advisor back), and its settlement gives the chat its cost.
    static var billingSubscription: EventSubscription {
        EventSubscription(producer: .billing)
            .on(Billing.FundsExhausted.self) { event, _, connection in
                guard
                    let chat = try connection.queryOne(
                        "SELECT \(ChatHandlers.chatColumns) FROM chats WHERE id = $1 AND status = 'active' FOR UPDATE", event.chatId)
                else { return }
                try ChatHandlers.close(chat, status: "ended", reason: "funds_exhausted", releaseTo: "online", on: connection)
            }
            .on(Billing.ChatSettled.self) { event, _, connection in
                try connection.execute("UPDATE chats SET charged_cents = $2 WHERE id = $1", event.chatId, event.chargedCents)
            }
    }
}
