public import Foundation

/// Live pushes to people: the messages `GET /v1/stream` carries (docs/api.md "The stream").
///
/// A service publishes a push on the event exchange under the topic of each person it is for;
/// a gateway subscribes to exactly the people connected to it and hands the payload, as is, to
/// their connections. Pushes are not durable: the owning service's tables are the truth, and a
/// reconnecting client asks for what it missed (DESIGN.md, "Events, with nothing lost").
public enum StreamTopic {
    /// Every push topic starts so; the broker takes them from every publisher (see BrokerEngine).
    public static let prefix = "stream."

    /// The topic of one person's pushes. Account ids are UUIDs, all 36 characters long, so no
    /// person's topic is a prefix of another's.
    public static func topic(for accountId: UUID) -> String {
        prefix + accountId.uuidString.lowercased()
    }
}

/// The server → client messages of the stream, each an object with its `type`.
public enum StreamPush {
    /// `chat.requested`: an advisor is asked for a chat and may accept until `expiresAt`.
    public struct ChatRequested: Codable, Sendable, Equatable {
        public var type = "chat.requested"
        public var chatId: UUID
        public var member: Chat.Party
        public var pricePerMinuteCents: Int
        public var expiresAt: Date
        public init(chatId: UUID, member: Chat.Party, pricePerMinuteCents: Int, expiresAt: Date) {
            self.chatId = chatId
            self.member = member
            self.pricePerMinuteCents = pricePerMinuteCents
            self.expiresAt = expiresAt
        }
    }

    /// `chat.accepted` and `chat.declined`: what became of a request.
    public struct ChatAnswered: Codable, Sendable, Equatable {
        public var type: String
        public var chatId: UUID
        public static func accepted(_ chatId: UUID) -> Self { Self(type: "chat.accepted", chatId: chatId) }
        public static func declined(_ chatId: UUID) -> Self { Self(type: "chat.declined", chatId: chatId) }
    }

    /// `chat.ended`: the chat is over; `reason` is `member`, `advisor`, `funds_exhausted`,
    /// `timeout` or `expired`.
    public struct ChatEnded: Codable, Sendable, Equatable {
        public var type = "chat.ended"
        public var chatId: UUID
        public var reason: String
        public var minutes: Int
        public init(chatId: UUID, reason: String, minutes: Int) {
            self.chatId = chatId
            self.reason = reason
            self.minutes = minutes
        }
    }

    /// `chat.message`: a stored message, to both participants (the sender's other devices too).
    public struct ChatMessage: Codable, Sendable, Equatable {
        public var type = "chat.message"
        public var chatId: UUID
        public var id: UUID
        public var seq: Int64
        public var senderId: UUID?
        public var text: String
        public var sentAt: Date
        public init(_ message: Chat.Message) {
            chatId = message.chatId
            id = message.id
            seq = message.seq
            senderId = message.senderId
            text = message.text
            sentAt = message.sentAt
        }
    }

    /// `chat.typing`: the other side is typing; never stored.
    public struct ChatTyping: Codable, Sendable, Equatable {
        public var type = "chat.typing"
        public var chatId: UUID
        public var senderId: UUID
        public init(chatId: UUID, senderId: UUID) {
            self.chatId = chatId
            self.senderId = senderId
        }
    }

    /// `chat.read`: the other side has read up to `seq`; never stored.
    public struct ChatRead: Codable, Sendable, Equatable {
        public var type = "chat.read"
        public var chatId: UUID
        public var readerId: UUID
        public var seq: Int64
        public init(chatId: UUID, readerId: UUID, seq: Int64) {
            self.chatId = chatId
            self.readerId = readerId
            self.seq = seq
        }
    }

    /// `billing.minute-left`, `billing.paused`, `billing.resumed`: billing's word on a chat, to both
    /// sides (`balanceCents` with the first only).
    public struct ChatBilling: Codable, Sendable, Equatable {
        public var type: String
        public var chatId: UUID
        public var balanceCents: Int?
        public init(type: String, chatId: UUID, balanceCents: Int? = nil) {
            self.type = type
            self.chatId = chatId
            self.balanceCents = balanceCents
        }
    }

    /// `chat.paid-phase`: the chat's free minutes are over; the messages after `afterSeq` are paid.
    public struct PaidPhase: Codable, Sendable, Equatable {
        public var type = "chat.paid-phase"
        public var chatId: UUID
        public var afterSeq: Int64
        public init(chatId: UUID, afterSeq: Int64) {
            self.chatId = chatId
            self.afterSeq = afterSeq
        }
    }

    /// `advisor.status`: a watched advisor's status changed (from the directory's event).
    public struct AdvisorStatus: Codable, Sendable, Equatable {
        public var type = "advisor.status"
        public var advisorId: UUID
        public var status: Directory.Status
        public init(advisorId: UUID, status: Directory.Status) {
            self.advisorId = advisorId
            self.status = status
        }
    }

    /// What a gateway reads of a push before passing it on: its type, and for a chat message the
    /// chat and sequence number by which it keeps each connection's messages in order, once.
    public struct Heading: Decodable, Sendable {
        public var type: String
        public var chatId: UUID?
        public var seq: Int64?
        /// A gateway's own probe (`type` "probe"): its nonce.
        public var nonce: String?
        public init(type: String, chatId: UUID? = nil, seq: Int64? = nil) {
            self.type = type
            self.chatId = chatId
            self.seq = seq
        }
    }
}
