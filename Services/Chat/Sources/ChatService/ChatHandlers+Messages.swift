import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Messages: stored, numbered and sealed before they are acknowledged, then pushed to both
/// participants' streams; a retried send (the same `clientMessageId`) returns the first answer,
/// stores nothing and pushes the message again (the first push may have been lost with a crash;
/// gateways deliver each `seq` once).
extension ChatHandlers {
    func send(_ request: Chat.Send.Request, caller: Caller) async throws -> Chat.Message {
        let senderId = try Self.accountId(of: caller)
        var rules = FieldRules()
        rules.text(request.text, field: "text", range: 1...settings.maxMessageCharacters)
        if request.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { rules.fail("text", "invalid") }
        rules.text(request.clientMessageId, field: "clientMessageId", range: 1...100)
        try rules.check()
        let sealing = self.sealing
        let (message, people) = try await database.transaction { connection -> (Chat.Message, [UUID?]) in
            // The chat's row lock orders the messages: each takes the next number.
            let chat = try Self.participantChat(request.chatId, of: senderId, forUpdate: true, on: connection)
            let people = [try chat.decode("member_id", as: UUID?.self), try chat.decode("advisor_id", as: UUID?.self)]
            let chatKey = try sealing.chatKey(request.chatId, for: senderId, on: connection)
            let earlier = {
                try connection.queryOne(
                    """
                    SELECT id, seq, sender_id, sealed_text, sent_at FROM messages
                    WHERE chat_id = $1 AND sender_id = $2 AND client_message_id = $3
                    """, request.chatId, senderId, request.clientMessageId
                ).map { (try Self.message($0, chatId: request.chatId, chatKey: chatKey, sealing: sealing), people) }
            }
            guard try chat.decode("status", as: String.self) == "active", try chat.decode("paused_at", as: Date?.self) == nil else {
                // A retry of a message stored before the chat ended still gets its first answer.
                if let stored = try earlier() { return stored }
                guard try chat.decode("status", as: String.self) == "active" else {
                    throw ServiceError(.chatNotActive, "messages go to a chat under way")
                }
                // A pause is not billed, so nothing is said during one.
                throw ServiceError(.chatNotActive, "the chat is paused while funds are added")
            }
            let seq = try chat.decode("last_seq", as: Int64.self) + 1
            let sealed = try sealing.sealText(request.text, chatKey: chatKey, chatId: request.chatId, seq: seq, senderId: senderId)
            // Stored and numbered in one statement; a clientMessageId stored before inserts nothing.
            if let row = try connection.queryOne(
                """
                WITH stored AS (
                    INSERT INTO messages (chat_id, seq, id, sender_id, client_message_id, sealed_text) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (chat_id, sender_id, client_message_id) DO NOTHING
                    RETURNING id, sent_at),
                numbered AS (
                    UPDATE chats SET last_seq = $2, last_activity_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM stored))
                SELECT id, sent_at FROM stored
                """, request.chatId, seq, UUID(), senderId, request.clientMessageId, sealed)
            {
                let message = Chat.Message(
                    id: try row.decode("id"), chatId: request.chatId, seq: seq, senderId: senderId, text: request.text,
                    sentAt: try row.decode("sent_at"))
                return (message, people)
            }
            guard let stored = try earlier() else { throw ServiceError(.internalError, "the message was not stored") }
            return stored
        }
        await streams.push(StreamPush.ChatMessage(message), to: people)
        return message
    }

    /// Tells the other participant of an active chat that the caller is typing.
    func typing(_ request: Chat.ChatRequest, caller: Caller) async throws -> Empty {
        let typist = try Self.accountId(of: caller)
        let other = try await otherParticipant(of: request.chatId, than: typist, activeOnly: true)
        await streams.push(StreamPush.ChatTyping(chatId: request.chatId, senderId: typist), to: [other])
        return Empty()
    }

    /// Tells the other participant how far the caller has read (up to a message that exists).
    func markRead(_ request: Chat.MarkRead.Request, caller: Caller) async throws -> Empty {
        let reader = try Self.accountId(of: caller)
        let chat = try await database.withConnection { try Self.participantChat(request.chatId, of: reader, on: $0) }
        var rules = FieldRules()
        let lastSeq: Int64 = try chat.decode("last_seq")
        if request.seq < 1 || request.seq > lastSeq { rules.fail("seq", "out_of_range") }
        try rules.check()
        let people = [try chat.decode("member_id", as: UUID?.self), try chat.decode("advisor_id", as: UUID?.self)]
        await streams.push(
            StreamPush.ChatRead(chatId: request.chatId, readerId: reader, seq: request.seq), to: people.filter { $0 != reader })
        return Empty()
    }

    /// The participant of `chatId` who is not `accountId` (404 unless `accountId` takes part; 409
    /// when `activeOnly` and the chat is not under way).
    private func otherParticipant(of chatId: UUID, than accountId: UUID, activeOnly: Bool) async throws -> UUID? {
        let chat = try await database.withConnection { try Self.participantChat(chatId, of: accountId, on: $0) }
        if activeOnly, try chat.decode("status", as: String.self) != "active" {
            throw ServiceError(.chatNotActive, "this chat is not under way")
        }
        let member: UUID? = try chat.decode("member_id")
        return member == accountId ? try chat.decode("advisor_id") : member
    }

    func messages(_ request: Chat.Messages.Request, caller: Caller) async throws -> Chat.Messages.Response {
        let readerId = try Self.accountId(of: caller)
        var rules = FieldRules()
        rules.number(request.limit, field: "limit", range: 1...Chat.Messages.maxLimit)
        if request.after < 0 { rules.fail("after", "out_of_range") }
        try rules.check()
        let sealing = self.sealing
        return try await database.withConnection { connection in
            let chat = try Self.participantChat(request.chatId, of: readerId, on: connection)
            let chatKey = try sealing.chatKey(request.chatId, for: readerId, on: connection)
            let rows = try connection.query(
                """
                SELECT id, seq, sender_id, sealed_text, sent_at FROM messages WHERE chat_id = $1 AND seq > $2
                ORDER BY seq LIMIT $3
                """, request.chatId, request.after, request.limit + 1)
            let shown = Array(rows.prefix(request.limit))
            let items = try shown.map { try Self.message($0, chatId: request.chatId, chatKey: chatKey, sealing: sealing) }
            return Chat.Messages.Response(
                items: items, nextAfter: rows.count > request.limit ? items.last?.seq : nil,
                paidPhaseAfterSeq: try chat.decode("paid_after_seq"))
        }
    }

    static func message(_ row: Row, chatId: UUID, chatKey: Data, sealing: TranscriptSealing) throws -> Chat.Message {
        let seq: Int64 = try row.decode("seq")
        let sender: UUID = try row.decode("sender_id")
        return Chat.Message(
            id: try row.decode("id"), chatId: chatId, seq: seq, senderId: sender,
            text: try sealing.openText(try row.decode("sealed_text"), chatKey: chatKey, chatId: chatId, seq: seq, senderId: sender),
            sentAt: try row.decode("sent_at"))
    }
}

// MARK: Staff

extension ChatHandlers {
    /// Support staff read a chat for a stated reason, recorded first in both participants' access
    /// logs. The service opens the chat with a participant's copy of its key, which only it can.
    func staffTranscript(_ request: Chat.StaffTranscript.Request, caller: Caller) async throws -> Chat.StaffTranscript.Response {
        guard caller.accountId != nil else { throw Self.unauthenticated }
        guard caller.has(.support) else { throw ServiceError(.forbidden, "only support staff read chats, with a reason") }
        var rules = FieldRules()
        rules.reason(request.reason)
        try rules.check()
        let row = try await database.withConnection { connection in
            try connection.queryOne("SELECT \(Self.chatColumns) FROM chats WHERE id = $1", request.chatId)
        }
        guard let row else { throw Self.noSuchChat }
        let people = [try row.decode("member_id", as: UUID?.self), try row.decode("advisor_id", as: UUID?.self)].compactMap { $0 }
        for person in people {
            _ = try await bus.call(
                Accounts.RecordStaffAccess.self, .init(subjectId: person, action: "staff.chat-read", reason: request.reason), as: caller)
        }
        guard let reader = people.first else { throw Self.noSuchChat }
        let sealing = self.sealing
        let messages = try await database.withConnection { connection in
            let chatKey = try sealing.chatKey(request.chatId, for: reader, on: connection)
            return try connection.query(
                "SELECT id, seq, sender_id, sealed_text, sent_at FROM messages WHERE chat_id = $1 ORDER BY seq", request.chatId
            ).map { try Self.message($0, chatId: request.chatId, chatKey: chatKey, sealing: sealing) }
        }
        logger.info("staff read a chat", metadata: ["chat.id": "\(request.chatId)"])
        let names = try await bus.publicNames(of: people)
        return Chat.StaffTranscript.Response(chat: try Self.summary(row, names: names), messages: messages)
    }
}
