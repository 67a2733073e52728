import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Moderation, as the best forums do it: signed-in people flag posts, each flag weighing by its
/// flagger's standing and record; enough weight hides a post at once until a moderator looks;
/// moderators (scoped to boards when assigned some) decide, with a reason recorded in accounts'
/// audit log and shown to the author; authors whose posts keep being hidden are silenced a while.
struct BoardsModeration: Sendable {
    let database: Database
    let bus: BusClient
    let handlers: BoardsHandlers
    let settings: BoardsSettings
    let logger: Logger

    /// What others are told of a post hidden by flags before a moderator looked.
    static let hiddenByFlags = "hidden after reports from the community, until a moderator looks"

    func flag(_ request: Boards.FlagPost.Request, caller: Caller) async throws -> Boards.FlagPost.Response {
        guard let flagger = caller.accountId else { throw ServiceError(.unauthenticated, "sign in to report a post") }
        var rules = FieldRules()
        if !Boards.FlagPost.reasons.contains(request.reason) { rules.fail("reason", "invalid") }
        rules.text(request.note, field: "note", range: 1...500)
        try rules.check()
        let settings = self.settings
        let createdAt = try await database.retryingTransaction(.readCommitted) { connection -> Date in
            guard
                let post = try connection.queryOne(
                    """
                    SELECT p.author_id, p.thread_id, p.seq, t.first_post_seq FROM posts p JOIN threads t ON t.id = p.thread_id
                    WHERE p.id = $1 AND p.deleted_at IS NULL AND p.hidden_at IS NULL AND NOT p.held AND t.shown FOR UPDATE OF p
                    """, request.postId)
            else { throw ServiceError(.notFound, "no such post") }
            if try post.decode("author_id", as: UUID?.self) == flagger { throw ServiceError(.forbidden, "you cannot report your own post") }
            let today = try connection.queryOne(
                "SELECT count(*)::int AS n FROM flags WHERE flagger_id = $1 AND created_at > now() - interval '24 hours'", flagger)
            if try today?.decode("n", as: Int.self) ?? 0 >= settings.flagsPerDay {
                throw ServiceError(.postingTooFast, "you may report \(settings.flagsPerDay) posts a day; try again later")
            }
            let weight = try Self.weight(of: flagger, settings: settings, on: connection)
            guard
                let inserted = try connection.queryOne(
                    """
                    INSERT INTO flags (post_id, flagger_id, reason, note, weight) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (post_id, flagger_id) WHERE flagger_id IS NOT NULL DO NOTHING RETURNING created_at
                    """, request.postId, flagger, request.reason, request.note, weight)
            else { throw ServiceError(.alreadyFlagged, "you have reported this post already") }
            let total: Double = try connection.queryOne(
                "UPDATE posts SET flag_weight = flag_weight + $2, needs_review = true WHERE id = $1 RETURNING flag_weight",
                request.postId, weight)!.decode("flag_weight")
            if total >= settings.hideWeight {
                try Self.hide(request.postId, reason: Self.hiddenByFlags, on: connection)
            }
            return try inserted.decode("created_at")
        }
        return .init(postId: request.postId, reason: request.reason, createdAt: createdAt)
    }

    /// A flag's weight: 1 from someone new on the boards, 2 from anyone else, times how their
    /// flags have fared ((upheld + 2) / (rejected + 2), between 0.25 and 2).
    static func weight(of flagger: UUID, settings: BoardsSettings, on connection: Connection) throws -> Double {
        let base: Double = try PostingRules.tier(PostingRules.standing(of: flagger, on: connection), settings: settings) == .trusted ? 2 : 1
        let record = try connection.queryOne("SELECT upheld, rejected FROM flaggers WHERE account_id = $1", flagger)
        let upheld = Double(try record?.decode("upheld", as: Int.self) ?? 0)
        let rejected = Double(try record?.decode("rejected", as: Int.self) ?? 0)
        return base * min(2, max(0.25, (upheld + 2) / (rejected + 2)))
    }

    /// Hides a post from everyone but its author; a thread's first post takes the thread with it.
    static func hide(_ post: UUID, reason: String, on connection: Connection) throws {
        guard
            let row = try connection.queryOne(
                "UPDATE posts SET hidden_at = coalesce(hidden_at, now()), hidden_reason = $2 WHERE id = $1 RETURNING thread_id, seq", post, reason)
        else { return }
        try connection.execute(
            "UPDATE threads SET shown = false WHERE id = $1 AND first_post_seq = $2", try row.decode("thread_id", as: UUID.self),
            try row.decode("seq", as: Int64.self))
    }

    // MARK: Moderators

    /// The boards the caller moderates: those assigned to them, or every board when none are.
    private func boards(of caller: Caller, on connection: Connection) throws -> [String]? {
        guard let id = caller.accountId else { throw ServiceError(.unauthenticated, "sign in first") }
        guard caller.has(.moderator) || caller.has(.admin) else { throw ServiceError(.forbidden, "moderation is moderators' work") }
        if caller.has(.admin) { return nil }
        let assigned = try connection.query("SELECT board FROM board_moderators WHERE account_id = $1", id).map {
            try $0.decode("board", as: String.self)
        }
        return assigned.isEmpty ? nil : assigned
    }

    func queue(_ page: PageRequest, caller: Caller) async throws -> Page<Boards.QueuedPost> {
        let cursor = try PageCursor(page)
        let (rows, flags) = try await database.withConnection { connection -> ([Row], [UUID: [Boards.QueuedPost.Flag]]) in
            let scope = try boards(of: caller, on: connection)
            let rows = try connection.query(
                """
                SELECT \(BoardsHandlers.postColumns), p.flag_weight, t.board, t.title
                FROM posts p JOIN threads t ON t.id = p.thread_id
                WHERE p.needs_review AND p.seq > $1 AND ($3::text[] IS NULL OR t.board = ANY($3::text[]))
                ORDER BY p.seq LIMIT $2
                """, cursor.after, cursor.limit + 1, scope)
            let ids = try rows.map { try $0.decode("id", as: UUID.self) }
            var flags: [UUID: [Boards.QueuedPost.Flag]] = [:]
            for row in try connection.query(
                "SELECT post_id, reason, note, weight, created_at FROM flags WHERE post_id = ANY($1::uuid[]) AND outcome IS NULL ORDER BY seq", ids)
            {
                flags[try row.decode("post_id"), default: []].append(
                    .init(reason: try row.decode("reason"), note: try row.decode("note"), weight: try row.decode("weight"), createdAt: try row.decode("created_at")))
            }
            return (rows, flags)
        }
        let names = try await bus.publicNames(of: rows.map { try $0.decode("author_id", as: UUID?.self) })
        return try cursor.page(rows) { row in
            let post = try BoardsHandlers.post(row, names: names)
            return Boards.QueuedPost(
                post: post, board: try row.decode("board"), threadTitle: try row.decode("title"), held: try row.decode("held"),
                hidden: try row.decode("hidden_at", as: Date?.self) != nil, flagWeight: try row.decode("flag_weight"), flags: flags[post.id] ?? [])
        }
    }

    /// What a post said before each edit, for a moderator of its board.
    func edits(_ request: Boards.PostEdits.Request, caller: Caller) async throws -> Page<Boards.EarlierText> {
        let cursor = try PageCursor(request.page)
        let rows = try await database.withConnection { connection -> [Row] in
            let scope = try boards(of: caller, on: connection)
            guard
                let post = try connection.queryOne(
                    "SELECT t.board FROM posts p JOIN threads t ON t.id = p.thread_id WHERE p.id = $1", request.postId)
            else { throw ServiceError(.notFound, "no such post") }
            if let scope, !scope.contains(try post.decode("board", as: String.self)) {
                throw ServiceError(.forbidden, "you moderate other boards")
            }
            return try connection.query(
                "SELECT id, text, replaced_at FROM post_edits WHERE post_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                request.postId, cursor.after, cursor.limit + 1)
        }
        return try cursor.page(rows, column: "id") { Boards.EarlierText(text: try $0.decode("text"), replacedAt: try $0.decode("replaced_at")) }
    }

    /// A moderator's decision on a post (or its thread, or its author), recorded first in the
    /// author's access log through accounts (an erased author has none).
    func decide(_ request: Boards.Decide.Request, caller: Caller) async throws -> Boards.Post {
        var rules = FieldRules()
        if !Boards.Decide.actions.contains(request.action) { rules.fail("action", "invalid") }
        rules.reason(request.reason)
        try rules.check()
        let target = try await database.withConnection { connection -> Row in
            let scope = try boards(of: caller, on: connection)
            guard
                let row = try connection.queryOne(
                    """
                    SELECT p.author_id, p.thread_id, p.held, p.text, p.seq = t.first_post_seq AS first, t.board
                    FROM posts p JOIN threads t ON t.id = p.thread_id WHERE p.id = $1
                    """, request.postId)
            else { throw ServiceError(.notFound, "no such post") }
            if let scope, !scope.contains(try row.decode("board", as: String.self)) {
                throw ServiceError(.forbidden, "you moderate other boards")
            }
            return row
        }
        if let author = try target.decode("author_id", as: UUID?.self) {
            _ = try await bus.call(
                Accounts.RecordStaffAccess.self, .init(subjectId: author, action: Self.auditAction[request.action]!, reason: request.reason),
                as: caller)
        }
        let released = try await releasedReply(request, target: target)
        let settings = self.settings
        try await database.retryingTransaction(.readCommitted) { connection in
            if try Self.apply(request, settings: settings, on: connection), let released { try Outbox.append(released, on: connection) }
        }
        logger.info("board moderation decided", metadata: ["post.id": "\(request.postId)", "moderation.action": "\(request.action)"])
        return try await handlers.post(request.postId)
    }

    /// A held reply that `restore` releases is told of now, as it would have been when written.
    private func releasedReply(_ request: Boards.Decide.Request, target: Row) async throws -> Boards.Replied? {
        guard request.action == "restore", try target.decode("held", as: Bool.self), try !target.decode("first", as: Bool.self),
            let replier = try target.decode("author_id", as: UUID?.self)
        else { return nil }
        let thread: UUID = try target.decode("thread_id")
        let recipients = try await handlers.replyRecipients(in: thread, text: try target.decode("text"), replier: replier)
        guard !recipients.isEmpty else { return nil }
        return Boards.Replied(
            postId: request.postId, threadId: thread, board: try target.decode("board"), replierId: replier, recipients: recipients, at: Date())
    }

    static let auditAction = [
        "hide": "staff.board-post-hidden", "restore": "staff.board-post-restored", "lock-thread": "staff.board-thread-locked",
        "unlock-thread": "staff.board-thread-unlocked", "pin-thread": "staff.board-thread-pinned",
        "unpin-thread": "staff.board-thread-unpinned", "silence-author": "staff.board-author-silenced",
    ]

    /// Carries the decision out; whether it published a held post.
    private static func apply(_ request: Boards.Decide.Request, settings: BoardsSettings, on connection: Connection) throws -> Bool {
        guard
            let post = try connection.queryOne(
                "SELECT author_id, thread_id, seq, held, hidden_at FROM posts WHERE id = $1 FOR UPDATE", request.postId)
        else { throw ServiceError(.notFound, "no such post") }
        let thread: UUID = try post.decode("thread_id")
        let author: UUID? = try post.decode("author_id")
        var published = false
        switch request.action {
        case "hide":
            try hide(request.postId, reason: request.reason, on: connection)
            try connection.execute("UPDATE posts SET needs_review = false WHERE id = $1", request.postId)
            try settleFlags(of: request.postId, upheld: true, on: connection)
            if let author { try silenceIfRepeated(author, settings: settings, on: connection) }
        case "restore":
            let wasHeld: Bool = try post.decode("held")
            try connection.execute(
                "UPDATE posts SET hidden_at = NULL, hidden_reason = NULL, held = false, needs_review = false WHERE id = $1", request.postId)
            let first = try connection.queryOne(
                "UPDATE threads SET shown = true WHERE id = $1 AND first_post_seq = $2 RETURNING board", thread, try post.decode("seq", as: Int64.self))
            if wasHeld {
                defer { published = true }
                // Published now: it counts, as it would have when written.
                if let first {
                    try connection.execute("UPDATE boards SET thread_count = thread_count + 1 WHERE slug = $1", try first.decode("board", as: String.self))
                } else {
                    try BoardsHandlers.countReply(in: thread, seq: try post.decode("seq"), on: connection)
                }
            }
            try settleFlags(of: request.postId, upheld: false, on: connection)
        case "lock-thread", "unlock-thread":
            try connection.execute("UPDATE threads SET locked = $2 WHERE id = $1", thread, request.action == "lock-thread")
        case "pin-thread":
            try connection.execute(
                "UPDATE threads SET pinned = true, rank = rank + \(BoardsHandlers.pinnedRank) WHERE id = $1 AND NOT pinned", thread)
        case "unpin-thread":
            try connection.execute("UPDATE threads SET pinned = false, rank = rank - \(BoardsHandlers.pinnedRank) WHERE id = $1 AND pinned", thread)
        default:
            guard let author else { throw ServiceError(.conflict, "the author's account was erased") }
            try silence(author, settings: settings, on: connection)
        }
        return published
    }

    /// The post's open flags are decided; their flaggers' records move.
    private static func settleFlags(of post: UUID, upheld: Bool, on connection: Connection) throws {
        let flaggers = try connection.query(
            "UPDATE flags SET outcome = $2 WHERE post_id = $1 AND outcome IS NULL RETURNING flagger_id", post, upheld ? "upheld" : "rejected"
        ).compactMap { try $0.decode("flagger_id", as: UUID?.self) }
        guard !flaggers.isEmpty else { return }
        try connection.execute(
            """
            INSERT INTO flaggers (account_id, upheld, rejected) SELECT f, $2, $3 FROM unnest($1::uuid[]) AS f
            ON CONFLICT (account_id) DO UPDATE SET upheld = flaggers.upheld + $2, rejected = flaggers.rejected + $3
            """, flaggers, upheld ? 1 : 0, upheld ? 0 : 1)
    }

    /// Posts hidden by moderators `silenceAfter` times in 30 days silence their author.
    private static func silenceIfRepeated(_ author: UUID, settings: BoardsSettings, on connection: Connection) throws {
        // Hidden by a moderator's decision: out of the queue, with the moderator's reason.
        let hidden = try connection.queryOne(
            """
            SELECT count(*)::int AS n FROM posts
            WHERE author_id = $1 AND hidden_at > now() - interval '30 days' AND NOT needs_review AND hidden_reason IS DISTINCT FROM $2
            """, author, hiddenByFlags)
        if try hidden?.decode("n", as: Int.self) ?? 0 >= settings.silenceAfter { try silence(author, settings: settings, on: connection) }
    }

    private static func silence(_ author: UUID, settings: BoardsSettings, on connection: Connection) throws {
        try connection.execute(
            """
            INSERT INTO people (account_id, silenced_until) VALUES ($1, now() + make_interval(hours => $2))
            ON CONFLICT (account_id) DO UPDATE SET silenced_until = greatest(people.silenced_until, excluded.silenced_until)
            """, author, settings.silenceHours)
    }

    /// A moderator of every board (a tier holds on all of them) sets a person's tier by hand, or
    /// hands it back to their behaviour; recorded first in their access log through accounts.
    func setTier(_ request: Boards.SetTier.Request, caller: Caller) async throws -> Boards.Standing {
        var rules = FieldRules()
        if let tier = request.tier, !(0...1).contains(tier) { rules.fail("tier", "invalid") }
        rules.reason(request.reason)
        try rules.check()
        try await database.withConnection { connection in
            if try boards(of: caller, on: connection) != nil {
                throw ServiceError(.forbidden, "a tier holds on every board: moderators of every board, and admins, set it")
            }
            guard try connection.queryOne("SELECT 1 AS found FROM people WHERE account_id = $1", request.accountId) != nil else {
                throw ServiceError(.notFound, "this person has not posted on the boards")
            }
        }
        _ = try await bus.call(
            Accounts.RecordStaffAccess.self,
            .init(subjectId: request.accountId, action: request.tier == nil ? "staff.board-tier-cleared" : "staff.board-tier-set", reason: request.reason),
            as: caller)
        let settings = self.settings
        let standing = try await database.transaction { connection -> Boards.Standing in
            try connection.execute("UPDATE people SET tier = $2 WHERE account_id = $1", request.accountId, request.tier)
            let row = try PostingRules.standing(of: request.accountId, on: connection)
            return Boards.Standing(
                accountId: request.accountId, tier: try PostingRules.tier(row, settings: settings) == .trusted ? 1 : 0,
                tierSetBy: try row.decode("tier", as: Int?.self) == nil ? "behaviour" : "moderator", threadsRead: try row.decode("threads_read"),
                onBoardsSince: try row.decode("on_boards_since"), silencedUntil: try row.decode("silenced_until"))
        }
        logger.info("board tier set", metadata: ["account.id": "\(request.accountId)", "boards.tier": "\(request.tier.map(String.init) ?? "behaviour")"])
        return standing
    }

    /// An admin gives a moderator a board, or takes it back.
    func assign(_ request: Boards.AssignModerator.Request, caller: Caller) async throws -> Empty {
        guard caller.accountId != nil else { throw ServiceError(.unauthenticated, "sign in first") }
        guard caller.has(.admin) else { throw ServiceError(.forbidden, "admins assign moderators") }
        try await database.transaction { connection in
            guard try connection.queryOne("SELECT 1 AS found FROM boards WHERE slug = $1", request.board) != nil else {
                throw BoardsHandlers.noBoard
            }
            if request.assigned {
                try connection.execute(
                    "INSERT INTO board_moderators (account_id, board) VALUES ($1, $2) ON CONFLICT DO NOTHING", request.accountId, request.board)
            } else {
                try connection.execute("DELETE FROM board_moderators WHERE account_id = $1 AND board = $2", request.accountId, request.board)
            }
        }
        return Empty()
    }
}
