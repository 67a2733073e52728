import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// The boards' operations: anyone reads; a signed-in person writes, within the posting rules,
/// and edits or deletes only their own posts.
struct BoardsHandlers: Sendable {
    let database: Database
    let bus: BusClient
    let rules: PostingRules
    let names: PublicNameCache
    let logger: Logger

    // MARK: Reading

    func boards() async throws -> Boards.ListBoards.Response {
        let boards = try await database.withConnection { connection in
            try connection.query(
                "SELECT slug, name, description, thread_count, advisors_only FROM boards WHERE NOT archived ORDER BY position, slug"
            ).map { row in
                Boards.Board(
                    slug: try row.decode("slug"), name: try row.decode("name"), description: try row.decode("description"),
                    threadCount: try row.decode("thread_count"), advisorsOnly: try row.decode("advisors_only"))
            }
        }
        return .init(boards: boards)
    }

    func threads(_ request: Boards.ListThreads.Request) async throws -> Page<Boards.Thread> {
        let cursor = try PageCursor(request.page)
        let rows = try await database.withConnection { connection -> [Row] in
            guard try connection.queryOne("SELECT 1 AS found FROM boards WHERE slug = $1 AND NOT archived", request.board) != nil else {
                throw Self.noBoard
            }
            return try connection.query(
                "SELECT \(Self.threadColumns) FROM threads t WHERE t.board = $1 AND t.shown AND t.rank < $2 ORDER BY t.rank DESC LIMIT $3",
                request.board, cursor.before, cursor.limit + 1)
        }
        let names = try await self.names.names(of: rows.map { try $0.decode("thread_author_id", as: UUID?.self) }, bus: bus)
        return try cursor.page(rows, column: "rank") { try Self.thread($0, names: names) }
    }

    func thread(_ request: Boards.GetThread.Request) async throws -> Boards.Thread {
        try await thread(request.threadId, where: Self.visible)
    }

    /// One thread, if it meets `condition`, with its author's name.
    private func thread(_ id: UUID, where condition: String) async throws -> Boards.Thread {
        let row = try await database.withConnection { connection in
            try connection.queryOne("SELECT \(Self.threadColumns) FROM threads t WHERE t.id = $1 AND \(condition)", id)
        }
        guard let row else { throw Self.noThread }
        return try Self.thread(row, names: try await self.names.names(of: [try row.decode("thread_author_id", as: UUID?.self)], bus: bus))
    }

    /// A thread's posts as the caller may see them: hidden and held posts only their author's.
    func posts(_ request: Boards.ListPosts.Request, caller: Caller) async throws -> Page<Boards.Post> {
        let cursor = try PageCursor(request.page)
        let rows = try await database.withConnection { connection -> [Row] in
            guard try connection.queryOne("SELECT 1 AS found FROM threads t WHERE t.id = $1 AND \(Self.visible)", request.threadId) != nil else {
                throw Self.noThread
            }
            if let reader = caller.accountId, cursor.seq == nil { try rules.recordRead(of: request.threadId, by: reader, on: connection) }
            return try connection.query(
                """
                SELECT \(Self.postColumns) FROM posts p
                WHERE p.thread_id = $1 AND p.seq > $2 AND ((p.hidden_at IS NULL AND NOT p.held) OR p.author_id = $4)
                ORDER BY p.seq LIMIT $3
                """, request.threadId, cursor.after, cursor.limit + 1, caller.accountId)
        }
        let names = try await self.names.names(of: rows.map { try $0.decode("author_id", as: UUID?.self) }, bus: bus)
        return try cursor.page(rows) { try Self.post($0, names: names) }
    }

    /// Threads whose title, or one of whose posts, matches `q`; the newest match first. Posts and
    /// titles are asked apart, each newest first with a limit and planned for its words, so
    /// PostgreSQL picks between walking the newest posts (common words) and the text index (rare).
    func search(_ request: Boards.Search.Request) async throws -> Page<Boards.Search.Hit> {
        let cursor = try PageCursor(request.page)
        var rules = FieldRules()
        rules.words(request.q, field: "q", range: 1...200)
        try rules.check()
        let (rows, inText) = try await database.withConnection { connection -> ([Row], Set<Int64>) in
            let select = "SELECT \(Self.postColumns), \(Self.threadFields) FROM posts p JOIN threads t ON t.id = p.thread_id"
            // The newest posts first, walked by seq: quick when the words are common. Then, if
            // that window did not fill the page, the older posts through the text index (`seq + 0`
            // keeps PostgreSQL from walking all of them by seq instead, which a rare phrase whose
            // matches it overestimates made take 0.7 s on a million posts). Planned for these
            // words each time, not by a prepared statement's generic plan.
            let newest: Int64 = try connection.queryOne("SELECT coalesce(max(seq), 0) AS seq FROM posts")?.decode("seq") ?? 0
            let windowStart = min(cursor.before, newest + 1) - Self.searchWindow
            var inPosts = try connection.queryPlannedEachTime(
                """
                \(select) WHERE p.search @@ websearch_to_tsquery('simple', $1) AND p.deleted_at IS NULL AND p.hidden_at IS NULL
                    AND NOT p.held AND \(Self.visible) AND p.seq < $2 AND p.seq > $4
                ORDER BY p.seq DESC LIMIT $3
                """, parameters: [request.q, cursor.before, cursor.limit + 1, windowStart])
            if inPosts.count <= cursor.limit {
                inPosts += try connection.queryPlannedEachTime(
                    """
                    \(select) WHERE p.search @@ websearch_to_tsquery('simple', $1) AND p.deleted_at IS NULL AND p.hidden_at IS NULL
                        AND NOT p.held AND \(Self.visible) AND p.seq < $2 AND p.seq <= $4
                    ORDER BY p.seq + 0 DESC LIMIT $3
                    """, parameters: [request.q, cursor.before, cursor.limit + 1 - inPosts.count, windowStart])
            }
            let inTitles = try connection.queryPlannedEachTime(
                """
                \(select) WHERE t.search @@ websearch_to_tsquery('simple', $1) AND \(Self.visible) AND p.seq = t.first_post_seq
                    AND t.first_post_seq < $2
                ORDER BY t.first_post_seq DESC LIMIT $3
                """, parameters: [request.q, cursor.before, cursor.limit + 1])
            // Newest first; a first post found both ways is one hit, as a match in its text.
            let inText = Set(try inPosts.map { try $0.decode("seq", as: Int64.self) })
            var seen = Set<Int64>()
            let merged = try (inPosts + inTitles).sorted { try $0.decode("seq", as: Int64.self) > $1.decode("seq", as: Int64.self) }
                .filter { seen.insert(try $0.decode("seq", as: Int64.self)).inserted }
            return (Array(merged.prefix(cursor.limit + 1)), inText)
        }
        let names = try await self.names.names(
            of: rows.flatMap { [try $0.decode("author_id", as: UUID?.self), try $0.decode("thread_author_id", as: UUID?.self)] }, bus: bus)
        return try cursor.page(rows) { row in
            Boards.Search.Hit(
                thread: try Self.thread(row, names: names, id: "thread_id"),
                post: inText.contains(try row.decode("seq")) ? try Self.post(row, names: names) : nil)
        }
    }

    // MARK: Writing

    func createThread(_ request: Boards.CreateThread.Request, caller: Caller) async throws -> Boards.CreateThread.Response {
        let author = try Self.signedIn(caller)
        try PostingRules.checkText(title: request.title, text: request.text)
        let rules = self.rules
        let (threadId, postId) = try await database.retryingTransaction(.readCommitted) { connection -> (UUID, UUID) in
            guard let board = try connection.queryOne("SELECT advisors_only FROM boards WHERE slug = $1 AND NOT archived FOR UPDATE", request.board)
            else { throw Self.noBoard }
            if try board.decode("advisors_only", as: Bool.self), !caller.has(.advisor) {
                throw ServiceError(.forbidden, "only advisors start threads on this board; members reply")
            }
            let tier = try rules.admit(author, acknowledging: request.acknowledgePublic, on: connection)
            try rules.check(request.text, by: author, tier: tier, isNew: true, on: connection)
            let hold = try rules.holdReason(request.title + "\n" + request.text, by: author, tier: tier, on: connection)
            return try Self.insertThread(
                board: request.board, title: request.title, text: request.text, author: author, byline: nil, holding: hold, on: connection)
        }
        // As its author just wrote it, shown or held.
        let thread = try await thread(threadId, where: "true")
        let first = try await post(postId)
        logger.info("thread started", metadata: ["board": "\(request.board)", "thread.id": "\(threadId)"])
        return Boards.Written(Boards.NewThread(thread: thread, firstPost: first))
    }

    /// A thread and its first post; the board's count goes up.
    /// A thread and its first post; the board's count goes up, unless it is held for review
    /// (`holding` says why), when nobody else sees it until a moderator lets it out.
    static func insertThread(
        board: String, title: String, text: String, author: UUID?, byline: String?, holding: String? = nil, on connection: Connection
    ) throws -> (thread: UUID, post: UUID) {
        let thread = UUID()
        let post = UUID()
        // The post's seq first (the thread's order is its latest post), then the thread, then the post.
        let seq: Int64 = try connection.queryOne("SELECT nextval(pg_get_serial_sequence('posts', 'seq')) AS seq")!.decode("seq")
        try connection.execute(
            """
            INSERT INTO threads (id, board, title, author_id, byline, first_post_seq, rank, shown) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
            """, thread, board, title, author, byline, seq, holding == nil)
        try connection.execute(
            """
            INSERT INTO posts (id, seq, thread_id, author_id, byline, text, held, needs_review, hidden_reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
            """, post, seq, thread, author, byline, text, holding != nil, holding)
        if holding == nil { try connection.execute("UPDATE boards SET thread_count = thread_count + 1 WHERE slug = $1", board) }
        return (thread, post)
    }

    func reply(_ request: Boards.Reply.Request, caller: Caller) async throws -> Boards.Reply.Response {
        let author = try Self.signedIn(caller)
        try PostingRules.checkText(text: request.text)
        let rules = self.rules
        let id = UUID()
        let recipients = try await replyRecipients(in: request.threadId, text: request.text, replier: author)
        try await database.retryingTransaction(.readCommitted) { connection in
            guard let thread = try connection.queryOne("SELECT t.locked, t.board FROM threads t WHERE t.id = $1 AND \(Self.visible) FOR UPDATE OF t", request.threadId)
            else { throw Self.noThread }
            if try thread.decode("locked", as: Bool.self) { throw Self.locked }
            let tier = try rules.admit(author, acknowledging: request.acknowledgePublic, on: connection)
            try rules.check(request.text, by: author, tier: tier, isNew: true, on: connection)
            let hold = try rules.holdReason(request.text, by: author, tier: tier, on: connection)
            let seq: Int64 = try connection.queryOne(
                """
                INSERT INTO posts (id, thread_id, author_id, text, held, needs_review, hidden_reason) VALUES ($1, $2, $3, $4, $5, $5, $6)
                RETURNING seq
                """, id, request.threadId, author, request.text, hold != nil, hold)!.decode("seq")
            guard hold == nil else { return }
            try Self.countReply(in: request.threadId, seq: seq, on: connection)
            if !recipients.isEmpty {
                try Outbox.append(
                    Boards.Replied(
                        postId: id, threadId: request.threadId, board: try thread.decode("board"), replierId: author, recipients: recipients,
                        at: Date()), on: connection)
            }
        }
        return Boards.Written(try await post(id))
    }

    func edit(_ request: Boards.EditPost.Request, caller: Caller) async throws -> Boards.EditPost.Response {
        let author = try Self.signedIn(caller)
        try PostingRules.checkText(text: request.text)
        let rules = self.rules
        try await database.retryingTransaction(.readCommitted) { connection in
            let row = try Self.ownPost(request.postId, of: author, on: connection)
            guard try row.decode("deleted_at", as: Date?.self) == nil else { throw ServiceError(.conflict, "a deleted post cannot be edited") }
            if try row.decode("locked", as: Bool.self) { throw Self.locked }
            let tier = try rules.admit(author, acknowledging: nil, on: connection)
            try rules.check(request.text, by: author, tier: tier, isNew: false, on: connection)
            let before: String = try row.decode("text")
            guard before != request.text else { return }
            try connection.execute("INSERT INTO post_edits (post_id, text) VALUES ($1, $2)", request.postId, before)
            try connection.execute("UPDATE posts SET text = $2, edited_at = now() WHERE id = $1", request.postId, request.text)
        }
        return Boards.Written(try await post(request.postId))
    }

    /// The text and its earlier versions go; the post keeps its place as "deleted". Twice is once.
    func delete(_ request: Boards.DeletePost.Request, caller: Caller) async throws -> Boards.DeletePost.Response {
        let author = try Self.signedIn(caller)
        try await database.retryingTransaction(.readCommitted) { connection in
            let row = try Self.ownPost(request.postId, of: author, on: connection)
            guard try row.decode("deleted_at", as: Date?.self) == nil else { return }
            try connection.execute("DELETE FROM post_edits WHERE post_id = $1", request.postId)
            try connection.execute("UPDATE posts SET text = '', deleted_at = now() WHERE id = $1", request.postId)
        }
        return Boards.Written(try await post(request.postId))
    }

    /// A published reply moves its thread up its board and adds to its count.
    static func countReply(in thread: UUID, seq: Int64, on connection: Connection) throws {
        try connection.execute(
            """
            UPDATE threads SET reply_count = reply_count + 1, last_post_at = now(),
                rank = greatest(rank, $2 + CASE WHEN pinned THEN \(pinnedRank) ELSE 0 END)
            WHERE id = $1
            """, thread, seq)
    }

    /// Who hears of a reply: the thread's author, and the thread's participants it mentions by
    /// `@displayName` (names as accounts gives them now); never the replier.
    func replyRecipients(in thread: UUID, text: String, replier: UUID) async throws -> [Boards.Replied.Recipient] {
        let (threadAuthor, participants) = try await database.withConnection { connection -> (UUID?, [UUID]) in
            let author = try connection.queryOne("SELECT author_id FROM threads WHERE id = $1", thread)?.decode("author_id", as: UUID?.self)
            let others = try connection.query(
                "SELECT DISTINCT author_id FROM posts WHERE thread_id = $1 AND author_id IS NOT NULL LIMIT 500", thread
            ).map { try $0.decode("author_id", as: UUID.self) }
            return (author, others)
        }
        var recipients: [Boards.Replied.Recipient] = []
        if let threadAuthor, threadAuthor != replier { recipients.append(.init(accountId: threadAuthor, why: "thread-author")) }
        guard text.contains("@") else { return recipients }
        let lowered = text.lowercased()
        let names = try await bus.publicNames(of: participants.filter { $0 != replier && $0 != threadAuthor })
        for (id, name) in names.sorted(by: { $0.key.uuidString < $1.key.uuidString }) where lowered.contains("@" + name.lowercased()) {
            recipients.append(.init(accountId: id, why: "mention"))
        }
        return recipients
    }

    // MARK: Reading rows

    static let threadColumns = "t.id, " + threadFields
    /// A thread's columns but its id (a search row has the post's id beside it; the thread's is `thread_id`).
    static let threadFields = """
        t.board, t.title, t.author_id AS thread_author_id, t.byline AS thread_byline, t.reply_count, t.created_at AS thread_created_at,
        t.last_post_at, t.pinned, t.locked, t.rank
        """
    static let postColumns =
        "p.id, p.seq, p.thread_id, p.author_id, p.byline, p.text, p.created_at, p.edited_at, p.deleted_at, p.hidden_at, p.hidden_reason, p.held"

    /// A thread anyone may read: its first post shown, on a board that is not archived.
    static let visible = "t.shown AND NOT EXISTS (SELECT 1 FROM boards b WHERE b.slug = t.board AND b.archived)"

    /// How many of the newest posts search walks by seq before it turns to the text index.
    static let searchWindow: Int64 = 20_000

    /// Above every unpinned thread's rank (a post seq) while pinned.
    static let pinnedRank: Int64 = 1 << 62

    static func thread(_ row: Row, names: [UUID: String], id: String = "id") throws -> Boards.Thread {
        Boards.Thread(
            id: try row.decode(id), board: try row.decode("board"), title: try row.decode("title"),
            author: author(try row.decode("thread_author_id"), byline: try row.decode("thread_byline"), names: names),
            replyCount: try row.decode("reply_count"), createdAt: try row.decode("thread_created_at"), lastPostAt: try row.decode("last_post_at"),
            pinned: try row.decode("pinned"), locked: try row.decode("locked"))
    }

    static func post(_ row: Row, names: [UUID: String]) throws -> Boards.Post {
        let deleted = try row.decode("deleted_at", as: Date?.self) != nil
        return Boards.Post(
            id: try row.decode("id"), threadId: try row.decode("thread_id"),
            author: author(try row.decode("author_id"), byline: try row.decode("byline"), names: names),
            text: deleted ? nil : try row.decode("text", as: String.self), createdAt: try row.decode("created_at"),
            editedAt: try row.decode("edited_at"), deleted: deleted, moderation: try moderation(row))
    }

    /// Why others do not see the post, if they do not.
    static func moderation(_ row: Row) throws -> Boards.Moderation? {
        let reason = try row.decode("hidden_reason", as: String?.self) ?? ""
        if try row.decode("hidden_at", as: Date?.self) != nil { return Boards.Moderation(status: "hidden", reason: reason) }
        if try row.decode("held", as: Bool.self) { return Boards.Moderation(status: "held", reason: reason) }
        return nil
    }

    /// A person by the name accounts gives; the platform by its byline; anyone else is a former member.
    static func author(_ id: UUID?, byline: String?, names: [UUID: String]) -> Boards.Author {
        guard let id else { return Boards.Author(id: nil, displayName: byline ?? Boards.formerMember) }
        guard let name = names[id] else { return Boards.Author(id: nil, displayName: Boards.formerMember) }
        return Boards.Author(id: id, displayName: name)
    }

    func post(_ id: UUID) async throws -> Boards.Post {
        let row = try await database.withConnection { try $0.queryOne("SELECT \(Self.postColumns) FROM posts p WHERE p.id = $1", id) }
        guard let row else { throw Self.noPost }
        return try Self.post(row, names: try await self.names.names(of: [try row.decode("author_id", as: UUID?.self)], bus: bus))
    }

    /// The caller's own post, locked, with its thread's lock; 404 for anyone else's (as for none).
    private static func ownPost(_ id: UUID, of author: UUID, on connection: Connection) throws -> Row {
        guard
            let row = try connection.queryOne(
                "SELECT p.text, p.deleted_at, p.author_id, t.locked FROM posts p JOIN threads t ON t.id = p.thread_id WHERE p.id = $1 FOR UPDATE OF p",
                id), try row.decode("author_id", as: UUID?.self) == author
        else { throw noPost }
        return row
    }

    private static func signedIn(_ caller: Caller) throws -> UUID {
        guard let id = caller.accountId else { throw ServiceError(.unauthenticated, "sign in to post") }
        return id
    }

    static let noBoard = ServiceError(.notFound, "no such board")
    static let noThread = ServiceError(.notFound, "no such thread")
    static let noPost = ServiceError(.notFound, "no such post of yours")
    static let locked = ServiceError(.threadLocked, "this thread is locked: it takes no more replies or edits")
}
