import Foundation
import Models
import ServiceKit
import Store

/// What the boards hold about a person, and how they forget them: posts were public and stay,
/// under "former member" and linked to nobody; what only the boards knew of them goes.
enum BoardsPrivacy {
    static let hooks = PrivacyHooks(export: { request, connection in try export(request.accountId, on: connection) }, erase: erase)

    /// The boards' section of a person's export.
    struct Section: Codable {
        struct ThreadRecord: Codable {
            var id: UUID
            var board: String
            var title: String
            var createdAt: Date
        }
        struct PostRecord: Codable {
            var id: UUID
            var threadId: UUID
            var text: String?
            var createdAt: Date
            var editedAt: Date?
            var deleted: Bool
        }
        struct FlagRecord: Codable {
            var postId: UUID
            var reason: String
            var note: String?
            var createdAt: Date
        }
        struct ReadRecord: Codable {
            var threadId: UUID
            var readAt: Date
        }
        var publicNoticeAcknowledgedAt: Date?
        /// The threads they opened signed in, as far as they count towards their trust tier.
        var threadsRead: [ReadRecord]
        var threads: [ThreadRecord]
        var posts: [PostRecord]
        var flagsRaised: [FlagRecord]
    }

    static func export(_ id: UUID, on connection: Connection) throws -> JSONValue {
        let section = Section(
            publicNoticeAcknowledgedAt: try connection.queryOne("SELECT acknowledged_at FROM people WHERE account_id = $1", id)?.decode(
                "acknowledged_at"),
            threadsRead: try connection.query("SELECT thread_id, read_at FROM thread_reads WHERE account_id = $1 ORDER BY read_at", id).map {
                Section.ReadRecord(threadId: try $0.decode("thread_id"), readAt: try $0.decode("read_at"))
            },
            threads: try connection.query(
                "SELECT id, board, title, created_at FROM threads WHERE author_id = $1 ORDER BY first_post_seq", id
            ).map {
                Section.ThreadRecord(
                    id: try $0.decode("id"), board: try $0.decode("board"), title: try $0.decode("title"), createdAt: try $0.decode("created_at"))
            },
            posts: try connection.query(
                "SELECT id, thread_id, text, created_at, edited_at, deleted_at FROM posts WHERE author_id = $1 ORDER BY seq", id
            ).map {
                let deleted = try $0.decode("deleted_at", as: Date?.self) != nil
                return Section.PostRecord(
                    id: try $0.decode("id"), threadId: try $0.decode("thread_id"), text: deleted ? nil : try $0.decode("text"),
                    createdAt: try $0.decode("created_at"), editedAt: try $0.decode("edited_at"), deleted: deleted)
            },
            flagsRaised: try connection.query("SELECT post_id, reason, note, created_at FROM flags WHERE flagger_id = $1 ORDER BY seq", id).map {
                Section.FlagRecord(
                    postId: try $0.decode("post_id"), reason: try $0.decode("reason"), note: try $0.decode("note"), createdAt: try $0.decode("created_at"))
            })
        return try JSONValue(encoding: section)
    }

    /// Threads and posts stay, linked to nobody; the earlier texts of their posts, their
    /// acknowledgement, reading and standing go; flags they raised stay without their identity.
    static func erase(_ id: UUID, on connection: Connection) throws {
        try connection.execute("DELETE FROM post_edits WHERE post_id IN (SELECT id FROM posts WHERE author_id = $1)", id)
        try connection.execute("UPDATE posts SET author_id = NULL WHERE author_id = $1", id)
        try connection.execute("UPDATE threads SET author_id = NULL WHERE author_id = $1", id)
        try connection.execute("DELETE FROM people WHERE account_id = $1", id)
        try connection.execute("DELETE FROM thread_reads WHERE account_id = $1", id)
        // Flags they raised stay (they decided what others saw), without who raised them.
        try connection.execute("UPDATE flags SET flagger_id = NULL WHERE flagger_id = $1", id)
        try connection.execute("DELETE FROM flaggers WHERE account_id = $1", id)
        try connection.execute("DELETE FROM board_moderators WHERE account_id = $1", id)
    }
}
