import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// The chat service's business rules, one method per bus operation: validate, authorize (a chat
/// exists only for its two participants: 404 to anyone else), one transaction, answer.
struct ChatHandlers: Sendable {
    let database: Database
    let bus: BusClient
    let settings: ChatSettings
    let sealing: TranscriptSealing
    let streams: StreamPushes
    let logger: Logger

    init(database: Database, bus: BusClient, streams: StreamPushes, settings: ChatSettings, logger: Logger) {
        self.database = database
        self.bus = bus
        self.settings = settings
        self.sealing = TranscriptSealing(dataKey: settings.dataKey)
        self.streams = streams
        self.logger = logger
    }

    static let unauthenticated = ServiceError(.unauthenticated, "sign in first")
    static let noSuchChat = ServiceError(.notFound, "there is no chat with this id")
    static let formerMember = "former member"

    static func accountId(of caller: Caller) throws -> UUID {
        guard let id = caller.accountId else { throw unauthenticated }
        return id
    }

    static let chatColumns = """
        id, member_id, advisor_id, status, price_cents, requested_at, expires_at, accepted_at, ended_at, end_reason, last_seq,
        minutes_started, charged_cents, free_minutes, paused_at, paid_after_seq
        """

    /// The chat if `accountId` takes part in it (locked for update when asked), else 404.
    static func participantChat(_ chatId: UUID, of accountId: UUID, forUpdate: Bool = false, on connection: Connection) throws
        -> Row
    {
        guard
            let row = try connection.queryOne(
                """
                SELECT \(chatColumns) FROM chats WHERE id = $1 AND (member_id = $2 OR advisor_id = $2)
                \(forUpdate ? "FOR UPDATE" : "")
                """, chatId, accountId)
        else { throw noSuchChat }
        return row
    }

    // MARK: The chat's life

    /// Records the chat first (one open chat per member), then takes the advisor in the directory
    /// for it (atomic there: of two members, one wins; a retried call for the same chat is the
    /// same taking), then asks billing whether free minutes or the wallet cover a first minute at
    /// the advisor's price (402 otherwise, and the advisor is given back). Refused, the chat is
    /// deleted; taken, it is announced. A crash in between leaves a requested chat that expires
    /// and gives the advisor back, since the directory holds them for this chat only.
    func request(_ request: Chat.RequestChat.Request, caller: Caller) async throws -> Chat.Summary {
        let memberId = try Self.accountId(of: caller)
        guard caller.has(.member) else { throw ServiceError(.forbidden, "only members ask advisors for a chat") }
        guard request.advisorId != memberId else { throw ServiceError(.forbidden, "you cannot chat with yourself") }
        let chatId = UUID()
        let expiresAt = Date().addingTimeInterval(TimeInterval(settings.acceptSeconds))
        let sealing = self.sealing
        do {
            try await database.transaction { connection in
                try connection.execute(
                    """
                    INSERT INTO chats (id, member_id, advisor_id, status, price_cents, expires_at) VALUES ($1, $2, $3, 'requested', 0, $4)
                    """, chatId, memberId, request.advisorId, expiresAt)
                let chatKey = sealing.newChatKey()
                for participant in [memberId, request.advisorId] {
                    try connection.execute(
                        "INSERT INTO chat_keys (chat_id, account_id, sealed_key) VALUES ($1, $2, $3)", chatId, participant,
                        try sealing.sealChatKey(chatKey, chatId: chatId, for: participant))
                }
            }
        } catch let error as StoreError where error.sqlState == "23505" {
            throw ServiceError(.conflict, "you have a chat asked for or under way; end it first")
        }
        let taken: Directory.Engage.Response
        do {
            taken = try await bus.call(
                Directory.Engage.self, .init(advisorId: request.advisorId, chatId: chatId, to: .busy), as: .system)
        } catch {
            _ = try? await database.withConnection { try $0.execute("DELETE FROM chats WHERE id = $1", chatId) }
            throw error
        }
        let price = taken.pricePerMinuteCents ?? 0
        do {
            _ = try await bus.call(
                Billing.AuthorizeChat.self,
                .init(memberId: memberId, advisorId: request.advisorId, pricePerMinuteCents: price, chatId: chatId),
                as: .system)
        } catch {
            let givenBack = (try? await bus.call(
                Directory.Engage.self, .init(advisorId: request.advisorId, chatId: chatId, to: .online), as: .system)) != nil
            // Given back, the chat never was; otherwise the release task gives the advisor back.
            _ = try? await database.withConnection { connection in
                try connection.execute(
                    givenBack
                        ? "DELETE FROM chats WHERE id = $1"
                        : "UPDATE chats SET status = 'ended', end_reason = 'member', ended_at = now(), release_to = 'online' WHERE id = $1",
                    chatId)
            }
            throw error
        }
        try await database.transaction { connection in
            try connection.execute("UPDATE chats SET engaged = true, price_cents = $2 WHERE id = $1", chatId, price)
            try Outbox.append(
                Chat.Requested(
                    chatId: chatId, memberId: memberId, advisorId: request.advisorId, pricePerMinuteCents: price,
                    expiresAt: expiresAt), on: connection)
        }
        logger.info("chat requested", metadata: ["chat.id": "\(chatId)"])
        let chat = try await summary(chatId, for: memberId)
        await streams.push(
            StreamPush.ChatRequested(chatId: chatId, member: chat.member, pricePerMinuteCents: price, expiresAt: expiresAt),
            to: [request.advisorId])
        return chat
    }

    func accept(_ request: Chat.ChatRequest, caller: Caller) async throws -> Chat.Summary {
        let advisorId = try Self.accountId(of: caller)
        let memberId = try await database.transaction { connection -> UUID in
            let chat = try Self.participantChat(request.chatId, of: advisorId, forUpdate: true, on: connection)
            guard try chat.decode("advisor_id", as: UUID?.self) == advisorId else {
                throw ServiceError(.forbidden, "only the advisor accepts a chat")
            }
            let expiresAt: Date = try chat.decode("expires_at")
            guard try chat.decode("status", as: String.self) == "requested", expiresAt > Date() else {
                throw ServiceError(.chatNotActive, "this chat is no longer waiting to be accepted")
            }
            // The first minute starts now; the minute task announces the next ones.
            try connection.execute(
                """
                UPDATE chats SET status = 'active', accepted_at = now(), last_activity_at = now(), minutes_started = 1
                WHERE id = $1
                """, request.chatId)
            let memberId: UUID = try chat.decode("member_id")
            let now = Date()
            try Outbox.append(Chat.Accepted(chatId: request.chatId, memberId: memberId, advisorId: advisorId, at: now), on: connection)
            try Outbox.append(
                Chat.MinuteStarted(
                    chatId: request.chatId, memberId: memberId, advisorId: advisorId, minute: 1,
                    pricePerMinuteCents: try chat.decode("price_cents"), free: try chat.decode("free_minutes", as: Int.self) >= 1,
                    at: now), on: connection)
            return memberId
        }
        await streams.push(StreamPush.ChatAnswered.accepted(request.chatId), to: [memberId, advisorId])
        return try await summary(request.chatId, for: advisorId)
    }

    func decline(_ request: Chat.ChatRequest, caller: Caller) async throws -> Chat.Summary {
        let advisorId = try Self.accountId(of: caller)
        try await finish(request.chatId, by: advisorId) { chat, status in
            guard try chat.decode("advisor_id", as: UUID?.self) == advisorId else {
                throw ServiceError(.forbidden, "only the advisor declines a chat")
            }
            guard status == "requested" else { throw ServiceError(.chatNotActive, "this chat is not waiting to be accepted") }
            return ("declined", "declined", "online")
        }
        return try await summary(request.chatId, for: advisorId)
    }

    /// Either side ends an active chat; the member may also withdraw a request.
    func end(_ request: Chat.ChatRequest, caller: Caller) async throws -> Chat.Summary {
        let id = try Self.accountId(of: caller)
        try await finish(request.chatId, by: id) { chat, status in
            let side = try chat.decode("member_id", as: UUID?.self) == id ? "member" : "advisor"
            switch status {
            case "active": return ("ended", side, "online")
            case "requested" where side == "member": return ("ended", "member", "online")
            default: throw ServiceError(.chatNotActive, "this chat is not under way")
            }
        }
        return try await summary(request.chatId, for: id)
    }

    /// Ends a chat in one transaction with its event, then gives the advisor back to the
    /// directory (the release task retries if that fails). `decide` names the new status, the
    /// reason and the advisor's status afterwards, or refuses.
    private func finish(
        _ chatId: UUID, by accountId: UUID,
        decide: @escaping @Sendable (Row, String) throws -> (status: String, reason: String, releaseTo: String)
    ) async throws {
        try await database.transaction { connection in
            let chat = try Self.participantChat(chatId, of: accountId, forUpdate: true, on: connection)
            let outcome = try decide(chat, try chat.decode("status"))
            try Self.close(chat, status: outcome.status, reason: outcome.reason, releaseTo: outcome.releaseTo, on: connection)
        }
        await ChatRelease.release(chatId, database: database, bus: bus, streams: streams, logger: logger)
    }

    /// Writes a chat's end and announces it; the advisor's release is left to `ChatRelease`. Ending
    /// a chat already over changes nothing.
    static func close(_ chat: Row, status: String, reason: String, releaseTo: String, on connection: Connection) throws {
        let chatId: UUID = try chat.decode("id")
        let now = Date()
        // The minutes announced to billing are the minutes of the chat.
        let minutes: Int = try chat.decode("minutes_started")
        try connection.execute(
            """
            UPDATE chats SET status = $2, ended_at = now(), end_reason = $3, release_to = $4 WHERE id = $1
            """, chatId, status, reason, releaseTo)
        if let member: UUID = try chat.decode("member_id"), let advisor: UUID = try chat.decode("advisor_id") {
            try Outbox.append(
                Chat.Ended(
                    chatId: chatId, memberId: member, advisorId: advisor, reason: reason, minutes: minutes,
                    pricePerMinuteCents: try chat.decode("price_cents"), freeMinutes: min(minutes, try chat.decode("free_minutes")),
                    at: now), on: connection)
        }
    }

    // MARK: Reading

    func get(_ request: Chat.ChatRequest, caller: Caller) async throws -> Chat.Summary {
        try await summary(request.chatId, for: try Self.accountId(of: caller))
    }

    func history(_ page: PageRequest, caller: Caller) async throws -> Page<Chat.Summary> {
        let id = try Self.accountId(of: caller)
        let cursor = try PageCursor(page)
        let rows = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT \(Self.chatColumns), seq FROM chats WHERE (member_id = $1 OR advisor_id = $1) AND seq < $2
                ORDER BY seq DESC LIMIT $3
                """, id, cursor.before, cursor.limit + 1)
        }
        let names = try await bus.publicNames(
            of: rows.flatMap { [try $0.decode("member_id", as: UUID?.self), try $0.decode("advisor_id", as: UUID?.self)] })
        return try cursor.page(rows) { try Self.summary($0, names: names) }
    }

    func summary(_ chatId: UUID, for accountId: UUID) async throws -> Chat.Summary {
        let row = try await database.withConnection { try Self.participantChat(chatId, of: accountId, on: $0) }
        let names = try await bus.publicNames(of: [try row.decode("member_id"), try row.decode("advisor_id")])
        return try Self.summary(row, names: names)
    }

    static func summary(_ row: Row, names: [UUID: String]) throws -> Chat.Summary {
        let member: UUID? = try row.decode("member_id")
        let advisor: UUID? = try row.decode("advisor_id")
        let party = { (id: UUID?) in Chat.Party(id: id, displayName: id.flatMap { names[$0] } ?? Self.formerMember) }
        return Chat.Summary(
            id: try row.decode("id"), status: Chat.Status(rawValue: try row.decode("status")) ?? .ended, member: party(member),
            advisor: party(advisor), pricePerMinuteCents: try row.decode("price_cents"), requestedAt: try row.decode("requested_at"),
            expiresAt: try row.decode("expires_at"), acceptedAt: try row.decode("accepted_at"), endedAt: try row.decode("ended_at"),
            endReason: try row.decode("end_reason"), lastSeq: try row.decode("last_seq"), minutes: try row.decode("minutes_started"),
            costCents: try row.decode("charged_cents"), freeMinutes: try row.decode("free_minutes"),
            paused: try row.decode("paused_at", as: Date?.self) != nil, paidPhaseAfterSeq: try row.decode("paid_after_seq"))
    }

}
