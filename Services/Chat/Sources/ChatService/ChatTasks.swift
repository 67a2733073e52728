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
/// which billing charges, marked free within the chat's free minutes), not counting time paused
/// while the member adds funds. When the free minutes are over the transcript records where the
/// paid phase begins. A chat where both sides stayed silent for `CHAT_SILENCE_SECONDS` ends
/// (`timeout`), and one paused longer than `CHAT_PAUSE_SECONDS` ends (`funds_exhausted`).
enum ChatClock {
    static func task(silenceSeconds: Int, pauseSeconds: Int, bus: BusClient, streams: StreamPushes, logger: Logger) -> MaintenanceTask {
        MaintenanceTask(name: "chat.clock", interval: .seconds(1)) { database in
            let (announced, over, paidPhases) = try await database.transaction { connection -> (Int, [UUID], [(Row, Int64)]) in
                let due = try connection.query(
                    """
                    SELECT \(ChatHandlers.chatColumns),
                        floor((extract(epoch FROM now() - accepted_at) - paused_seconds) / 60)::int + 1 AS due,
                        CASE WHEN paused_at IS NOT NULL THEN
                            CASE WHEN paused_at < now() - make_interval(secs => $2::int) THEN 'funds_exhausted' END
                        WHEN last_activity_at < now() - make_interval(secs => $1::int) THEN 'timeout' END AS ending
                    FROM chats WHERE status = 'active'
                        AND (paused_at < now() - make_interval(secs => $2::int)
                             OR (paused_at IS NULL
                                 AND (floor((extract(epoch FROM now() - accepted_at) - paused_seconds) / 60)::int + 1 > minutes_started
                                      OR last_activity_at < now() - make_interval(secs => $1::int))))
                    ORDER BY accepted_at LIMIT 500 FOR UPDATE SKIP LOCKED
                    """, silenceSeconds, pauseSeconds)
                var announced = 0
                var over: [UUID] = []
                var paidPhases: [(Row, Int64)] = []
                for chat in due {
                    let chatId: UUID = try chat.decode("id")
                    if let reason: String = try chat.decode("ending") {
                        try ChatHandlers.close(chat, status: "ended", reason: reason, releaseTo: "online", on: connection)
                        over.append(chatId)
                        continue
                    }
                    let started: Int = try chat.decode("minutes_started")
                    let now: Int = try chat.decode("due")
                    guard now > started, let member: UUID = try chat.decode("member_id"), let advisor: UUID = try chat.decode("advisor_id")
                    else { continue }
                    let free: Int = try chat.decode("free_minutes")
                    for minute in (started + 1)...now {
                        try Outbox.append(
                            Chat.MinuteStarted(
                                chatId: chatId, memberId: member, advisorId: advisor, minute: minute,
                                pricePerMinuteCents: try chat.decode("price_cents"), free: minute <= free, at: Date()), on: connection)
                        announced += 1
                        if free > 0, minute == free + 1 {
                            let afterSeq: Int64 = try chat.decode("last_seq")
                            try connection.execute("UPDATE chats SET paid_after_seq = $2 WHERE id = $1", chatId, afterSeq)
                            paidPhases.append((chat, afterSeq))
                        }
                    }
                    try connection.execute("UPDATE chats SET minutes_started = $2 WHERE id = $1", chatId, now)
                }
                return (announced, over, paidPhases)
            }
            for (chat, afterSeq) in paidPhases {
                await streams.push(
                    StreamPush.PaidPhase(chatId: try chat.decode("id"), afterSeq: afterSeq),
                    to: [try chat.decode("member_id"), try chat.decode("advisor_id")])
            }
            for chat in over { await ChatRelease.release(chat, database: database, bus: bus, streams: streams, logger: logger) }
            return announced + over.count
        }
    }

    /// Billing's word on a chat. Its funds-exhausted ends the chat (`funds_exhausted`; the release
    /// task gives the advisor back); its settlement gives the chat its cost; its free minutes,
    /// pause and resumption set the clock; a minute left, a pause and a resumption are told to
    /// both sides on the stream. Those pushes leave as the event is applied: they are hints, and
    /// an event applied again (after a crash) pushes again.
    static func billingSubscription(streams: StreamPushes) -> EventSubscription {
        let push = { @Sendable (message: StreamPush.ChatBilling, row: Row?) in
            guard let row else { return }
            let people = [try? row.decode("member_id", as: UUID?.self), try? row.decode("advisor_id", as: UUID?.self)]
            streams.send(message, to: people.map { $0 ?? nil })
        }
        return EventSubscription(producer: .billing)
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
            .on(Billing.FreeMinutes.self) { event, _, connection in
                try connection.execute(
                    "UPDATE chats SET free_minutes = $2 WHERE id = $1 AND status IN ('requested', 'active')", event.chatId,
                    max(0, min(event.freeMinutes, 600)))
            }
            .on(Billing.MinuteLeft.self) { event, _, connection in
                push(
                    .init(type: "billing.minute-left", chatId: event.chatId, balanceCents: event.balanceCents),
                    try connection.queryOne(
                        "SELECT member_id, advisor_id FROM chats WHERE id = $1 AND status = 'active'", event.chatId))
            }
            .on(Billing.ChatPaused.self) { event, _, connection in
                push(
                    .init(type: "billing.paused", chatId: event.chatId),
                    try connection.queryOne(
                        """
                        UPDATE chats SET paused_at = now() WHERE id = $1 AND status = 'active' AND paused_at IS NULL
                        RETURNING member_id, advisor_id
                        """, event.chatId))
            }
            .on(Billing.ChatResumed.self) { event, _, connection in
                // The pause is not billed: the clock skips it, and silence counts from now.
                push(
                    .init(type: "billing.resumed", chatId: event.chatId),
                    try connection.queryOne(
                        """
                        UPDATE chats SET paused_seconds = paused_seconds + ceil(extract(epoch FROM now() - paused_at))::int,
                            paused_at = NULL, last_activity_at = now()
                        WHERE id = $1 AND status = 'active' AND paused_at IS NOT NULL
                        RETURNING member_id, advisor_id
                        """, event.chatId))
            }
    }
}
