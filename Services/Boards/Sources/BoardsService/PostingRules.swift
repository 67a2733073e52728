import Foundation
import Models
import ServiceKit
import Store

/// What a person may post: the text's limits, the public notice acknowledged once, and the
/// limits of someone new on the boards (tier 0): a few posts a day, a couple of links, no images.
struct PostingRules: Sendable {
    let settings: BoardsSettings

    static let titleLength = 3...150
    static let textLength = 1...10_000

    /// Checks a title (when there is one) and a text; 422 naming each field that fails.
    static func checkText(title: String? = nil, text: String) throws {
        var rules = FieldRules()
        if let title { rules.words(title, field: "title", range: titleLength) }
        rules.words(text, field: "text", range: textLength)
        try rules.check()
    }

    /// The person's standing, recording their acknowledgement when they give it: 422
    /// `public_notice_not_acknowledged` for a first post without one.
    func admit(_ author: UUID, acknowledging: Bool?, on connection: Connection) throws -> Tier {
        if acknowledging == true {
            try connection.execute("INSERT INTO people (account_id) VALUES ($1) ON CONFLICT (account_id) DO NOTHING", author)
        }
        guard
            let row = try connection.queryOne(
                "SELECT \(Self.standingColumns) FROM people p WHERE p.account_id = $1 FOR UPDATE", author)
        else {
            throw ServiceError(
                .publicNoticeNotAcknowledged,
                "\(Boards.notice) Send acknowledgePublic: true with your first post to say you understand.",
                fieldErrors: [FieldError(field: "acknowledgePublic", code: "required")])
        }
        if let until = try row.decode("silenced_until", as: Date?.self), until > Date() {
            throw ServiceError(.authorSilenced, "a moderator has silenced you on the boards until \(until.ISO8601Format())")
        }
        return try Self.tier(row, settings: settings)
    }

    enum Tier { case new, trusted }

    /// What the standing of the person `$1` is read from, beside their `people p` row (NULLs
    /// without one): the threads they read (counted up to the threshold, as stored) and when they
    /// came to the boards.
    static let standingColumns = """
        p.acknowledged_at, p.tier, p.silenced_until,
        (SELECT count(*)::int FROM thread_reads r WHERE r.account_id = $1) AS threads_read,
        least(p.acknowledged_at, (SELECT min(r.read_at) FROM thread_reads r WHERE r.account_id = $1)) AS on_boards_since
        """

    /// The standing of someone who may never have posted: `standingColumns` for `account`.
    static func standing(of account: UUID, on connection: Connection) throws -> Row {
        try connection.queryOne("SELECT \(standingColumns) FROM (SELECT) AS one LEFT JOIN people p ON p.account_id = $1", account)!
    }

    /// A person's tier from their standing (`standingColumns`): a moderator's word, else whether
    /// they have read enough threads and been on the boards long enough.
    static func tier(_ row: Row, settings: BoardsSettings) throws -> Tier {
        if let set = try row.decode("tier", as: Int?.self) { return set == 0 ? .new : .trusted }
        guard let since = try row.decode("on_boards_since", as: Date?.self) else { return .new }
        let read: Int = try row.decode("threads_read")
        return read >= settings.trustThreadsRead && Date().timeIntervalSince(since) >= Double(settings.newDays) * 86_400 ? .trusted : .new
    }

    /// Counts a thread opened by someone signed in towards their trust, up to the threshold (the
    /// table holds no more than it needs per person).
    func recordRead(of thread: UUID, by reader: UUID, on connection: Connection) throws {
        try connection.execute(
            """
            INSERT INTO thread_reads (account_id, thread_id)
            SELECT $1, $2 WHERE (SELECT count(*) FROM thread_reads WHERE account_id = $1) < $3
            ON CONFLICT DO NOTHING
            """, reader, thread, settings.trustThreadsRead)
    }

    /// The tier's limits on one more post with `text`: 429 `posting_too_fast` past the day's
    /// posts, 422 `too_many_links` past the links (or an image from someone new).
    func check(_ text: String, by author: UUID, tier: Tier, isNew: Bool, on connection: Connection) throws {
        let links = Self.links(in: text)
        let allowed = tier == .new ? settings.newLinksPerPost : settings.linksPerPost
        if links.count > allowed {
            throw ServiceError(
                .tooManyLinks, "a post may hold at most \(allowed) links\(tier == .new ? " while you are new on the boards" : "")",
                fieldErrors: [FieldError(field: "text", code: "too_many_links")])
        }
        guard tier == .new else { return }
        if links.contains(where: Self.isImage) {
            throw ServiceError(
                .tooManyLinks, "images can be posted once you are no longer new on the boards",
                fieldErrors: [FieldError(field: "text", code: "image_not_allowed")])
        }
        guard isNew else { return }
        let today = try connection.queryOne(
            "SELECT count(*)::int AS n FROM posts WHERE author_id = $1 AND created_at > now() - interval '24 hours'", author)
        if try today?.decode("n", as: Int.self) ?? 0 >= settings.newPostsPerDay {
            throw ServiceError(.postingTooFast, "new people may post \(settings.newPostsPerDay) times a day; try again later")
        }
    }

    /// Why a new person's post waits for a moderator before anyone sees it, if it should: it
    /// repeats one of their posts of the last day, or it holds links among their first posts.
    func holdReason(_ text: String, by author: UUID, tier: Tier, on connection: Connection) throws -> String? {
        guard tier == .new else { return nil }
        let row = try connection.queryOne(
            """
            SELECT count(*) FILTER (WHERE text = $2 AND created_at > now() - interval '24 hours')::int AS repeats,
                   count(*) FILTER (WHERE NOT held AND hidden_at IS NULL AND deleted_at IS NULL)::int AS published
            FROM posts WHERE author_id = $1
            """, author, text)
        if try row?.decode("repeats", as: Int.self) ?? 0 > 0 { return "it repeats one of your recent posts; a moderator will look at it" }
        if !Self.links(in: text).isEmpty, try row?.decode("published", as: Int.self) ?? 0 < Self.publishedBeforeLinks {
            return "links in your first posts wait for a moderator's look"
        }
        return nil
    }

    /// Posts someone new publishes before their links go out without a look.
    static let publishedBeforeLinks = 3

    /// The links in a text: `http://`, `https://` and `www.` runs up to white space.
    static func links(in text: String) -> [Substring] {
        text.split(whereSeparator: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "(" || $0 == ")" }).filter { word in
            let lower = word.lowercased()
            return lower.contains("http://") || lower.contains("https://") || lower.hasPrefix("www.")
        }
    }

    /// A link to an image file, by its extension.
    static func isImage(_ link: Substring) -> Bool {
        let path = link.lowercased().split(whereSeparator: { $0 == "?" || $0 == "#" }).first ?? ""
        return [".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".avif"].contains { path.hasSuffix($0) }
    }
}
