public import Foundation

/// The message boards (docs/api.md "Message boards"): boards, threads and posts, public by
/// design. Reading needs no sign-in; every write answer carries `notice`.
public enum Boards {
    /// What every write answer says, and front ends show before a person posts.
    public static let notice = "Posts on the message boards are public: anyone can read, copy and use them."

    /// Shown for an author whose account was erased (their posts stay: they were public).
    public static let formerMember = "former member"

    public struct Board: Codable, Sendable, Equatable {
        public var slug: String
        public var name: String
        public var description: String
        public var threadCount: Int
        /// Only advisors start threads here (members reply).
        public var advisorsOnly: Bool
        public init(slug: String, name: String, description: String, threadCount: Int, advisorsOnly: Bool) {
            self.slug = slug
            self.name = name
            self.description = description
            self.threadCount = threadCount
            self.advisorsOnly = advisorsOnly
        }
    }

    /// Who wrote a thread or post: `id` is nil (and the name "former member") once erased.
    public struct Author: Codable, Sendable, Equatable {
        public var id: UUID?
        public var displayName: String
        public init(id: UUID?, displayName: String) {
            self.id = id
            self.displayName = displayName
        }
    }

    public struct Thread: Codable, Sendable, Equatable {
        public var id: UUID
        public var board: String
        public var title: String
        public var author: Author
        public var replyCount: Int
        public var createdAt: Date
        public var lastPostAt: Date
        public var pinned: Bool
        public var locked: Bool
        public init(
            id: UUID, board: String, title: String, author: Author, replyCount: Int, createdAt: Date, lastPostAt: Date, pinned: Bool,
            locked: Bool
        ) {
            self.id = id
            self.board = board
            self.title = title
            self.author = author
            self.replyCount = replyCount
            self.createdAt = createdAt
            self.lastPostAt = lastPostAt
            self.pinned = pinned
            self.locked = locked
        }
    }

    /// A post as anyone reads it. A deleted post keeps its place (replies stay in context) with
    /// no text.
    public struct Post: Codable, Sendable, Equatable {
        public var id: UUID
        public var threadId: UUID
        public var author: Author
        public var text: String?
        public var createdAt: Date
        public var editedAt: Date?
        public var deleted: Bool
        /// Shown to its author (and moderators) only: the post is hidden or held, and why.
        public var moderation: Moderation?
        public init(
            id: UUID, threadId: UUID, author: Author, text: String?, createdAt: Date, editedAt: Date?, deleted: Bool,
            moderation: Moderation? = nil
        ) {
            self.id = id
            self.threadId = threadId
            self.author = author
            self.text = text
            self.createdAt = createdAt
            self.editedAt = editedAt
            self.deleted = deleted
            self.moderation = moderation
        }
    }

    /// Why others do not see a post.
    public struct Moderation: Codable, Sendable, Equatable {
        /// `hidden` (by a moderator, or by reports pending review) or `held` (waiting for review).
        public var status: String
        public var reason: String
        public init(status: String, reason: String) {
            self.status = status
            self.reason = reason
        }
    }

    /// A write's answer: what was written, its fields at the top level, and beside them `notice`.
    public struct Written<Item: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
        public var item: Item
        public var notice: String
        public init(_ item: Item) {
            self.item = item
            self.notice = Boards.notice
        }

        private enum CodingKeys: String, CodingKey { case notice }

        public init(from decoder: any Decoder) throws {
            item = try Item(from: decoder)
            notice = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .notice)
        }

        public func encode(to encoder: any Encoder) throws {
            try item.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(notice, forKey: .notice)
        }
    }

    /// A new thread: its fields, and its first post as `firstPost`.
    public struct NewThread: Codable, Sendable, Equatable {
        public var thread: Thread
        public var firstPost: Post
        public init(thread: Thread, firstPost: Post) {
            self.thread = thread
            self.firstPost = firstPost
        }

        private enum CodingKeys: String, CodingKey { case firstPost }

        public init(from decoder: any Decoder) throws {
            thread = try Thread(from: decoder)
            firstPost = try decoder.container(keyedBy: CodingKeys.self).decode(Post.self, forKey: .firstPost)
        }

        public func encode(to encoder: any Encoder) throws {
            try thread.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(firstPost, forKey: .firstPost)
        }
    }

    /// `boards.list`: every board that is not archived, in the order they are shown.
    public struct ListBoards: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.list"
        public static let isIdempotent = true
        public typealias Request = Empty
        public struct Response: Codable, Sendable, Equatable {
            public var boards: [Board]
            public init(boards: [Board]) { self.boards = boards }
        }
    }

    /// `boards.admin.create`: an admin adds a board, shown after the others.
    public struct CreateBoard: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.admin.create"
        public struct Request: Codable, Sendable, Equatable {
            public var slug: String
            public var name: String
            public var description: String
            public var advisorsOnly: Bool?
            public init(slug: String, name: String, description: String, advisorsOnly: Bool? = nil) {
                self.slug = slug
                self.name = name
                self.description = description
                self.advisorsOnly = advisorsOnly
            }
        }
        public typealias Response = Board
    }

    /// `boards.admin.update`: an admin renames, re-describes or archives a board (archived: not
    /// listed, and its threads not read, until unarchived; nothing is deleted).
    public struct UpdateBoard: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.admin.update"
        public struct Request: Codable, Sendable, Equatable {
            public var slug: String
            public var name: String?
            public var description: String?
            public var advisorsOnly: Bool?
            public var archived: Bool?
            public init(slug: String, name: String? = nil, description: String? = nil, advisorsOnly: Bool? = nil, archived: Bool? = nil) {
                self.slug = slug
                self.name = name
                self.description = description
                self.advisorsOnly = advisorsOnly
                self.archived = archived
            }
        }
        public typealias Response = Board
    }

    /// `boards.threads.list`: a board's threads, pinned first on the first page, then by latest post.
    public struct ListThreads: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.threads.list"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var board: String
            public var page: PageRequest
            public init(board: String, page: PageRequest = PageRequest()) {
                self.board = board
                self.page = page
            }
        }
        public typealias Response = Page<Thread>
    }

    /// `boards.threads.create`: a signed-in person starts a thread with its first post.
    public struct CreateThread: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.threads.create"
        public struct Request: Codable, Sendable, Equatable {
            public var board: String
            public var title: String
            public var text: String
            /// Required (true) on a person's first post: they were told posts are public.
            public var acknowledgePublic: Bool?
            public init(board: String, title: String, text: String, acknowledgePublic: Bool? = nil) {
                self.board = board
                self.title = title
                self.text = text
                self.acknowledgePublic = acknowledgePublic
            }
        }
        public typealias Response = Written<NewThread>
    }

    /// `boards.threads.get`: one thread.
    public struct GetThread: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.threads.get"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var threadId: UUID
            public init(threadId: UUID) { self.threadId = threadId }
        }
        public typealias Response = Thread
    }

    /// `boards.posts.list`: a thread's posts, oldest first.
    public struct ListPosts: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.posts.list"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var threadId: UUID
            public var page: PageRequest
            public init(threadId: UUID, page: PageRequest = PageRequest()) {
                self.threadId = threadId
                self.page = page
            }
        }
        public typealias Response = Page<Post>
    }

    /// `boards.posts.reply`: a signed-in person replies in a thread that is not locked.
    public struct Reply: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.posts.reply"
        public struct Request: Codable, Sendable, Equatable {
            public var threadId: UUID
            public var text: String
            public var acknowledgePublic: Bool?
            public init(threadId: UUID, text: String, acknowledgePublic: Bool? = nil) {
                self.threadId = threadId
                self.text = text
                self.acknowledgePublic = acknowledgePublic
            }
        }
        public typealias Response = Written<Post>
    }

    /// `boards.posts.edit`: its author changes a post's text; the earlier text is kept for moderators.
    public struct EditPost: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.posts.edit"
        public struct Request: Codable, Sendable, Equatable {
            public var postId: UUID
            public var text: String
            public init(postId: UUID, text: String) {
                self.postId = postId
                self.text = text
            }
        }
        public typealias Response = Written<Post>
    }

    /// `boards.posts.delete`: its author deletes a post; it stays in its thread as "deleted".
    public struct DeletePost: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.posts.delete"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var postId: UUID
            public init(postId: UUID) { self.postId = postId }
        }
        public typealias Response = Written<Post>
    }

    /// `boards.search`: threads whose title or posts match `q` (PostgreSQL full-text search),
    /// best match first.
    public struct Search: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.search"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var q: String
            public var page: PageRequest
            public init(q: String, page: PageRequest = PageRequest()) {
                self.q = q
                self.page = page
            }
        }
        public struct Hit: Codable, Sendable, Equatable {
            public var thread: Thread
            /// The best matching post, if the match is in a post rather than the title.
            public var post: Post?
            public init(thread: Thread, post: Post?) {
                self.thread = thread
                self.post = post
            }
        }
        public typealias Response = Page<Hit>
    }

    /// `boards.posts.flag`: a signed-in person reports someone else's post, once.
    public struct FlagPost: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.posts.flag"
        public struct Request: Codable, Sendable, Equatable {
            public var postId: UUID
            public var reason: String
            public var note: String?
            public init(postId: UUID, reason: String, note: String? = nil) {
                self.postId = postId
                self.reason = reason
                self.note = note
            }
        }
        public struct Response: Codable, Sendable, Equatable {
            public var postId: UUID
            public var reason: String
            public var createdAt: Date
            public init(postId: UUID, reason: String, createdAt: Date) {
                self.postId = postId
                self.reason = reason
                self.createdAt = createdAt
            }
        }
        public static let reasons = ["spam", "abuse", "off_topic", "other"]
    }

    /// A post waiting for a moderator: flagged, hidden by flags, or held.
    public struct QueuedPost: Codable, Sendable, Equatable {
        public struct Flag: Codable, Sendable, Equatable {
            public var reason: String
            public var note: String?
            public var weight: Double
            public var createdAt: Date
            public init(reason: String, note: String?, weight: Double, createdAt: Date) {
                self.reason = reason
                self.note = note
                self.weight = weight
                self.createdAt = createdAt
            }
        }
        public var post: Post
        public var board: String
        public var threadTitle: String
        public var held: Bool
        public var hidden: Bool
        public var flagWeight: Double
        public var flags: [Flag]
        public init(post: Post, board: String, threadTitle: String, held: Bool, hidden: Bool, flagWeight: Double, flags: [Flag]) {
            self.post = post
            self.board = board
            self.threadTitle = threadTitle
            self.held = held
            self.hidden = hidden
            self.flagWeight = flagWeight
            self.flags = flags
        }
    }

    /// `boards.moderation.queue`: the posts waiting for the calling moderator, on their boards, oldest first.
    public struct ModerationQueue: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.moderation.queue"
        public static let isIdempotent = true
        public typealias Request = PageRequest
        public typealias Response = Page<QueuedPost>
    }

    /// `boards.moderation.decide`: a moderator acts on a post or its thread, with a reason (audited).
    public struct Decide: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.moderation.decide"
        public struct Request: Codable, Sendable, Equatable {
            public var postId: UUID
            public var action: String
            public var reason: String
            public init(postId: UUID, action: String, reason: String) {
                self.postId = postId
                self.action = action
                self.reason = reason
            }
        }
        public typealias Response = Post
        public static let actions = ["hide", "restore", "lock-thread", "unlock-thread", "pin-thread", "unpin-thread", "silence-author"]
    }

    /// `boards.moderators.assign`: an admin gives a moderator a board (then they moderate only the
    /// boards they are given), or takes it back.
    public struct AssignModerator: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.moderators.assign"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var board: String
            public var accountId: UUID
            public var assigned: Bool
            public init(board: String, accountId: UUID, assigned: Bool) {
                self.board = board
                self.accountId = accountId
                self.assigned = assigned
            }
        }
        public typealias Response = Empty
    }

    /// A text a post had before an edit replaced it.
    public struct EarlierText: Codable, Sendable, Equatable {
        public var text: String
        public var replacedAt: Date
        public init(text: String, replacedAt: Date) {
            self.text = text
            self.replacedAt = replacedAt
        }
    }

    /// `boards.posts.edits`: a moderator of the post's board reads what the post said before each
    /// edit, oldest first (an author's deletion takes them all).
    public struct PostEdits: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.posts.edits"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var postId: UUID
            public var page: PageRequest
            public init(postId: UUID, page: PageRequest = PageRequest()) {
                self.postId = postId
                self.page = page
            }
        }
        public typealias Response = Page<EarlierText>
    }

    /// A person's standing on the boards, as moderators see it: their tier (0 new, 1 trusted),
    /// whether a moderator set it, and what behaviour earns it.
    public struct Standing: Codable, Sendable, Equatable {
        public var accountId: UUID
        public var tier: Int
        /// `moderator` when a moderator set the tier by hand, `behaviour` otherwise.
        public var tierSetBy: String
        /// Threads they opened while signed in, counted up to the threshold that earns tier 1.
        public var threadsRead: Int
        /// Since their first read or their acknowledgement of the public notice, whichever came first.
        public var onBoardsSince: Date
        public var silencedUntil: Date?
        public init(accountId: UUID, tier: Int, tierSetBy: String, threadsRead: Int, onBoardsSince: Date, silencedUntil: Date?) {
            self.accountId = accountId
            self.tier = tier
            self.tierSetBy = tierSetBy
            self.threadsRead = threadsRead
            self.onBoardsSince = onBoardsSince
            self.silencedUntil = silencedUntil
        }
    }

    /// `boards.people.set-tier`: a moderator of every board sets a person's tier by hand (0 or 1),
    /// or hands it back to their behaviour (`tier` nil), with a reason (audited).
    public struct SetTier: BusOperation {
        public static let service = ServiceName.boards
        public static let name = "boards.people.set-tier"
        public static let isIdempotent = true
        public struct Request: Codable, Sendable, Equatable {
            public var accountId: UUID
            public var tier: Int?
            public var reason: String
            public init(accountId: UUID, tier: Int?, reason: String) {
                self.accountId = accountId
                self.tier = tier
                self.reason = reason
            }
        }
        public typealias Response = Standing
    }

    /// Someone replied in a thread: its author and the people the reply mentions by
    /// `@displayName` (among the thread's participants) are told. Ids only; the text is public
    /// and read from the thread. Sent when the reply is published (a held reply, once released).
    public struct Replied: DomainEvent, Equatable {
        public static let type = "boards.reply.v1"
        public struct Recipient: Codable, Sendable, Equatable {
            public var accountId: UUID
            /// `thread-author` or `mention`.
            public var why: String
            public init(accountId: UUID, why: String) {
                self.accountId = accountId
                self.why = why
            }
        }
        public var postId: UUID
        public var threadId: UUID
        public var board: String
        public var replierId: UUID
        public var recipients: [Recipient]
        public var at: Date
        public init(postId: UUID, threadId: UUID, board: String, replierId: UUID, recipients: [Recipient], at: Date) {
            self.postId = postId
            self.threadId = threadId
            self.board = board
            self.replierId = replierId
            self.recipients = recipients
            self.at = at
        }
    }

    public static let errorCodes: [DeclaredErrorCode] = [
        .init(.publicNoticeNotAcknowledged, status: 422), .init(.threadLocked, status: 423), .init(.tooManyLinks, status: 422),
        .init(.postingTooFast, status: 429), .init(.alreadyFlagged, status: 409), .init(.authorSilenced, status: 403),
    ]
}

extension ServiceError.Code {
    /// A person's first post must say `acknowledgePublic: true` (422).
    public static let publicNoticeNotAcknowledged = ServiceError.Code(rawValue: "public_notice_not_acknowledged")
    /// The thread is locked: no replies (423).
    public static let threadLocked = ServiceError.Code(rawValue: "thread_locked")
    /// More links than the author's trust tier allows, or an image from a new account (422).
    public static let tooManyLinks = ServiceError.Code(rawValue: "too_many_links")
    /// A new account posted (or anyone flagged) as often as they may today (429).
    public static let postingTooFast = ServiceError.Code(rawValue: "posting_too_fast")
    /// The person flagged this post already (409).
    public static let alreadyFlagged = ServiceError.Code(rawValue: "already_flagged")
    /// A moderator silenced the author for a while (403).
    public static let authorSilenced = ServiceError.Code(rawValue: "author_silenced")
}
