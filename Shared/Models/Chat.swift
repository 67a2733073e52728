public import Foundation

/// The chat service's operations and events: member–advisor chats and their transcripts
/// (docs/api.md "Chat").
public enum Chat {
    /// Where a chat is: asked for, under way, or over (and how).
    public enum Status: String, Codable, Sendable, CaseIterable {
        case requested, active, ended, declined, expired
    }

    /// One side of a chat as the other sees it: "former member" once erased.
    public struct Party: Codable, Sendable, Equatable {
        /// nil once the person was erased.
        public var id: UUID?
        public var displayName: String
        public init(id: UUID?, displayName: String) {
            self.id = id
            self.displayName = displayName
        }
    }

    /// A chat as its participants see it.
    public struct Summary: Codable, Sendable, Equatable {
        public var id: UUID
        public var status: Status
        public var member: Party
        public var advisor: Party
        /// The advisor's price when the chat was asked for; it holds for the whole chat.
        public var pricePerMinuteCents: Int
        public var requestedAt: Date
        /// Until when the advisor may accept.
        public var expiresAt: Date
        public var acceptedAt: Date?
        public var endedAt: Date?
        /// `member`, `advisor`, `declined`, `expired`, `timeout` or `funds_exhausted`.
        public var endReason: String?
        /// The sequence number of the newest message; 0 before the first.
        public var lastSeq: Int64
        /// The minutes of the active phase so far.
        public var minutes: Int
        /// What the member paid, once billing has settled the chat.
        public var costCents: Int?
        /// The chat's first minutes that billing made free.
        public var freeMinutes: Int
        /// The clock is stopped while the member adds funds.
        public var paused: Bool
        /// Where the transcript's paid phase begins: the messages after this `seq` (once the free
        /// minutes are over).
        public var paidPhaseAfterSeq: Int64?

        public init(
            id: UUID, status: Status, member: Party, advisor: Party, pricePerMinuteCents: Int, requestedAt: Date,
            expiresAt: Date, acceptedAt: Date?, endedAt: Date?, endReason: String?, lastSeq: Int64, minutes: Int = 0,
            costCents: Int? = nil, freeMinutes: Int = 0, paused: Bool = false, paidPhaseAfterSeq: Int64? = nil
        ) {
            self.id = id
            self.status = status
            self.member = member
            self.advisor = advisor
            self.pricePerMinuteCents = pricePerMinuteCents
            self.requestedAt = requestedAt
            self.expiresAt = expiresAt
            self.acceptedAt = acceptedAt
            self.endedAt = endedAt
            self.endReason = endReason
            self.lastSeq = lastSeq
            self.minutes = minutes
            self.costCents = costCents
            self.freeMinutes = freeMinutes
            self.paused = paused
            self.paidPhaseAfterSeq = paidPhaseAfterSeq
        }
    }

    /// One message of a transcript.
    public struct Message: Codable, Sendable, Equatable {
        public var id: UUID
        public var chatId: UUID
        /// Dense from 1 within the chat, in the order the service stored them.
        public var seq: Int64
        /// nil once the sender was erased (their words are gone; this is never shown then).
        public var senderId: UUID?
        public var text: String
        public var sentAt: Date
        public init(id: UUID, chatId: UUID, seq: Int64, senderId: UUID?, text: String, sentAt: Date) {
            self.id = id
            self.chatId = chatId
            self.seq = seq
            self.senderId = senderId
            self.text = text
            self.sentAt = sentAt
        }
    }

    /// A chat's id, for the operations on one chat.
    public struct ChatRequest: Codable, Sendable, Equatable {
        public var chatId: UUID
        public init(chatId: UUID) { self.chatId = chatId }
    }

    /// `chat.request`: a member asks an online advisor for a chat; the advisor is taken at once
    /// (`directory.status.engage`), so two members cannot both have them.
    public struct RequestChat: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.request"
        public struct Request: Codable, Sendable, Equatable {
            public var advisorId: UUID
            public init(advisorId: UUID) { self.advisorId = advisorId }
        }
        public typealias Response = Summary
    }

    /// `chat.accept`: the advisor accepts a chat asked of them, before it expires.
    public struct Accept: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.accept"
        public typealias Request = ChatRequest
        public typealias Response = Summary
    }

    /// `chat.decline`: the advisor declines; they are free again.
    public struct Decline: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.decline"
        public typealias Request = ChatRequest
        public typealias Response = Summary
    }

    /// `chat.end`: either participant ends the chat (or withdraws a request); the advisor is free again.
    public struct End: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.end"
        public typealias Request = ChatRequest
        public typealias Response = Summary
    }

    /// `chat.get`: one chat, to its participants only.
    public struct Get: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.get"
        public static let isIdempotent = true
        public typealias Request = ChatRequest
        public typealias Response = Summary
    }

    /// `chat.messages.send`: a participant sends a message in an active chat; the same
    /// `clientMessageId` again returns the first answer and stores nothing.
    public struct Send: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.messages.send"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var chatId: UUID
            public var text: String
            public var clientMessageId: String
            public init(chatId: UUID, text: String, clientMessageId: String) {
                self.chatId = chatId
                self.text = text
                self.clientMessageId = clientMessageId
            }
        }
        public typealias Response = Message
    }

    /// `chat.messages.list`: a participant reads the transcript after a sequence number.
    public struct Messages: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.messages.list"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var chatId: UUID
            public var after: Int64
            public var limit: Int
            public init(chatId: UUID, after: Int64 = 0, limit: Int = 100) {
                self.chatId = chatId
                self.after = after
                self.limit = limit
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var items: [Message]
            /// Pass back as `after` for the next page; nil when there is no more yet.
            public var nextAfter: Int64?
            /// Where the paid phase begins, once the chat's free minutes are over.
            public var paidPhaseAfterSeq: Int64?
            public init(items: [Message], nextAfter: Int64?, paidPhaseAfterSeq: Int64? = nil) {
                self.items = items
                self.nextAfter = nextAfter
                self.paidPhaseAfterSeq = paidPhaseAfterSeq
            }
        }
        public static let maxLimit = 500
    }

    /// `chat.typing`: a participant is typing; the other side is told through the stream and
    /// nothing is stored.
    public struct Typing: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.typing"
        public typealias Request = ChatRequest
        public typealias Response = Empty
    }

    /// `chat.read`: a participant has read the messages up to `seq`; the other side is told
    /// through the stream and nothing is stored.
    public struct MarkRead: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.read"
        public struct Request: Codable, Sendable, Equatable {
            public var chatId: UUID
            public var seq: Int64
            public init(chatId: UUID, seq: Int64) {
                self.chatId = chatId
                self.seq = seq
            }
        }
        public typealias Response = Empty
    }

    /// `chat.history`: the caller's chats, newest first.
    public struct History: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.history"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<Summary>
    }

    // MARK: Events (ids, times and prices; never a message's text)

    public struct Requested: DomainEvent, Equatable {
        public static let type = "chat.requested.v1"
        public var chatId: UUID
        public var memberId: UUID
        public var advisorId: UUID
        public var pricePerMinuteCents: Int
        public var expiresAt: Date
        public init(chatId: UUID, memberId: UUID, advisorId: UUID, pricePerMinuteCents: Int, expiresAt: Date) {
            self.chatId = chatId
            self.memberId = memberId
            self.advisorId = advisorId
            self.pricePerMinuteCents = pricePerMinuteCents
            self.expiresAt = expiresAt
        }
    }

    public struct Accepted: DomainEvent, Equatable {
        public static let type = "chat.accepted.v1"
        public var chatId: UUID
        public var memberId: UUID
        public var advisorId: UUID
        public var at: Date
        public init(chatId: UUID, memberId: UUID, advisorId: UUID, at: Date) {
            self.chatId = chatId
            self.memberId = memberId
            self.advisorId = advisorId
            self.at = at
        }
    }

    /// A chat is over: ended by a side, declined, or expired unanswered.
    public struct Ended: DomainEvent, Equatable {
        public static let type = "chat.ended.v1"
        public var chatId: UUID
        public var memberId: UUID
        public var advisorId: UUID
        public var reason: String
        /// Started minutes of the active phase (0 when it never began).
        public var minutes: Int
        public var pricePerMinuteCents: Int
        /// How many of `minutes` were free (billing's `billing.chat-free-minutes.v1`).
        public var freeMinutes: Int
        public var at: Date
        public init(
            chatId: UUID, memberId: UUID, advisorId: UUID, reason: String, minutes: Int, pricePerMinuteCents: Int,
            freeMinutes: Int = 0, at: Date
        ) {
            self.chatId = chatId
            self.memberId = memberId
            self.advisorId = advisorId
            self.reason = reason
            self.minutes = minutes
            self.pricePerMinuteCents = pricePerMinuteCents
            self.freeMinutes = freeMinutes
            self.at = at
        }

        enum CodingKeys: String, CodingKey { case chatId, memberId, advisorId, reason, minutes, pricePerMinuteCents, freeMinutes, at }

        /// Events written before `freeMinutes` existed read as having none.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            chatId = try container.decode(UUID.self, forKey: .chatId)
            memberId = try container.decode(UUID.self, forKey: .memberId)
            advisorId = try container.decode(UUID.self, forKey: .advisorId)
            reason = try container.decode(String.self, forKey: .reason)
            minutes = try container.decode(Int.self, forKey: .minutes)
            pricePerMinuteCents = try container.decode(Int.self, forKey: .pricePerMinuteCents)
            freeMinutes = try container.decodeIfPresent(Int.self, forKey: .freeMinutes) ?? 0
            at = try container.decode(Date.self, forKey: .at)
        }
    }
}

extension Chat {
    /// A minute of a chat's active phase began: billing charges it, at the price fixed when the
    /// chat was asked for (billing knows which of a member's minutes are free).
    public struct MinuteStarted: DomainEvent, Equatable {
        public static let type = "chat.minute-started.v1"
        public var chatId: UUID
        public var memberId: UUID
        public var advisorId: UUID
        /// 1 for the first minute.
        public var minute: Int
        public var pricePerMinuteCents: Int
        /// One of the free minutes billing granted the chat (`billing.chat-free-minutes.v1`).
        public var free: Bool
        public var at: Date
        public init(
            chatId: UUID, memberId: UUID, advisorId: UUID, minute: Int, pricePerMinuteCents: Int, free: Bool = false, at: Date
        ) {
            self.chatId = chatId
            self.memberId = memberId
            self.advisorId = advisorId
            self.minute = minute
            self.pricePerMinuteCents = pricePerMinuteCents
            self.free = free
            self.at = at
        }

        enum CodingKeys: String, CodingKey { case chatId, memberId, advisorId, minute, pricePerMinuteCents, free, at }

        /// Events written before `free` existed read as paid minutes.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            chatId = try container.decode(UUID.self, forKey: .chatId)
            memberId = try container.decode(UUID.self, forKey: .memberId)
            advisorId = try container.decode(UUID.self, forKey: .advisorId)
            minute = try container.decode(Int.self, forKey: .minute)
            pricePerMinuteCents = try container.decode(Int.self, forKey: .pricePerMinuteCents)
            free = try container.decodeIfPresent(Bool.self, forKey: .free) ?? false
            at = try container.decode(Date.self, forKey: .at)
        }
    }

    /// `chat.staff.transcript`: support staff read a chat, for a reason that accounts records in
    /// both participants' access logs first.
    public struct StaffTranscript: BusOperation {
        public static let service = ServiceName.chat
        public static let name = "chat.staff.transcript"
        public struct Request: Codable, Sendable, Equatable {
            public var chatId: UUID
            public var reason: String
            public init(chatId: UUID, reason: String) {
                self.chatId = chatId
                self.reason = reason
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var chat: Summary
            public var messages: [Message]
            public init(chat: Summary, messages: [Message]) {
                self.chat = chat
                self.messages = messages
            }
        }
    }
}

extension Billing {
    /// A chat's first `freeMinutes` minutes are free (a new member's offer); sent when billing
    /// learns of the request, before it is accepted.
    public struct FreeMinutes: DomainEvent, Equatable {
        public static let type = "billing.chat-free-minutes.v1"
        public var chatId: UUID
        public var freeMinutes: Int
        public var at: Date
        public init(chatId: UUID, freeMinutes: Int, at: Date) {
            self.chatId = chatId
            self.freeMinutes = freeMinutes
            self.at = at
        }
    }

    /// The member's funds cover one more minute only: both sides are told (`billing.minute-left`).
    public struct MinuteLeft: DomainEvent, Equatable {
        public static let type = "billing.chat-minute-left.v1"
        public var chatId: UUID
        public var balanceCents: Int
        public var at: Date
        public init(chatId: UUID, balanceCents: Int, at: Date) {
            self.chatId = chatId
            self.balanceCents = balanceCents
            self.at = at
        }
    }

    /// The member is adding funds: the chat's clock stops until `ChatResumed`, or until
    /// `CHAT_PAUSE_SECONDS` pass and the chat ends (`funds_exhausted`). Paused time is not billed.
    public struct ChatPaused: DomainEvent, Equatable {
        public static let type = "billing.chat-paused.v1"
        public var chatId: UUID
        public var at: Date
        public init(chatId: UUID, at: Date) {
            self.chatId = chatId
            self.at = at
        }
    }

    /// The funds arrived: the chat's clock runs again.
    public struct ChatResumed: DomainEvent, Equatable {
        public static let type = "billing.chat-resumed.v1"
        public var chatId: UUID
        public var at: Date
        public init(chatId: UUID, at: Date) {
            self.chatId = chatId
            self.at = at
        }
    }

    /// The member's funds ran out during a chat: the chat ends (`funds_exhausted`).
    public struct FundsExhausted: DomainEvent, Equatable {
        public static let type = "billing.chat-funds-exhausted.v1"
        public var chatId: UUID
        public var at: Date
        public init(chatId: UUID, at: Date) {
            self.chatId = chatId
            self.at = at
        }
    }
}

extension ServiceError.Code {
    /// The chat is not in a state that allows this (409): accepting an ended chat, sending in a requested one.
    public static let chatNotActive = ServiceError.Code(rawValue: "chat_not_active")
}

extension Chat {
    /// The chat operations' own error codes, with their HTTP statuses.
    public static let errorCodes: [DeclaredErrorCode] = [.init(.chatNotActive, status: 409)]
}
