import Foundation
import Models
import ServiceKit
import Store

/// What the chat service holds about a person, and how it forgets them.
enum ChatPrivacy {
    static func hooks(sealing: TranscriptSealing) -> PrivacyHooks {
        PrivacyHooks(export: { request, connection in try export(request.accountId, sealing: sealing, on: connection) }, erase: erase)
    }

    struct ChatRecord: Codable {
        var id: UUID
        var role: String
        var otherParty: UUID?
        var status: String
        var pricePerMinuteCents: Int
        var requestedAt: Date
        var endedAt: Date?
        var endReason: String?
        var messages: [Chat.Message]
    }

    /// Every chat of the person with its transcript as they read it.
    static func export(_ id: UUID, sealing: TranscriptSealing, on connection: Connection) throws -> JSONValue {
        let chats = try connection.query(
            """
            SELECT \(ChatHandlers.chatColumns) FROM chats WHERE member_id = $1 OR advisor_id = $1 ORDER BY seq
            """, id
        ).map { row -> ChatRecord in
            let chatId: UUID = try row.decode("id")
            let member: UUID? = try row.decode("member_id")
            let chatKey = try sealing.chatKey(chatId, for: id, on: connection)
            let messages = try connection.query(
                "SELECT id, seq, sender_id, sealed_text, sent_at FROM messages WHERE chat_id = $1 ORDER BY seq", chatId
            ).map { try ChatHandlers.message($0, chatId: chatId, chatKey: chatKey, sealing: sealing) }
            return ChatRecord(
                id: chatId, role: member == id ? "member" : "advisor",
                otherParty: member == id ? try row.decode("advisor_id") : member, status: try row.decode("status"),
                pricePerMinuteCents: try row.decode("price_cents"), requestedAt: try row.decode("requested_at"),
                endedAt: try row.decode("ended_at"), endReason: try row.decode("end_reason"), messages: messages)
        }
        return try JSONValue(encoding: ["chats": chats])
    }

    /// The person's words and their copy of each chat's key go; the other side keeps their own
    /// words, under "former member". A chat with nobody left goes entirely.
    static func erase(_ id: UUID, on connection: Connection) throws {
        // A chat under way with the person ends now; its advisor is given back by the release task.
        for chat in try connection.query(
            "SELECT \(ChatHandlers.chatColumns) FROM chats WHERE (member_id = $1 OR advisor_id = $1) AND status IN ('requested', 'active') FOR UPDATE",
            id)
        {
            let side = try chat.decode("member_id", as: UUID?.self) == id ? "member" : "advisor"
            try ChatHandlers.close(chat, status: "ended", reason: side, releaseTo: "online", on: connection)
        }
        try connection.execute("DELETE FROM messages WHERE sender_id = $1", id)
        try connection.execute("DELETE FROM chat_keys WHERE account_id = $1", id)
        try connection.execute("UPDATE chats SET member_id = NULL WHERE member_id = $1", id)
        try connection.execute("UPDATE chats SET advisor_id = NULL WHERE advisor_id = $1", id)
        try connection.execute("DELETE FROM chats WHERE member_id IS NULL AND advisor_id IS NULL")
    }
}
