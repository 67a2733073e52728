import Foundation
import Models
import Store

/// How the directory reads advisors and reviews: the columns of a summary, the presence an
/// advisor shows, a profile with its newest reviews.
struct AdvisorRecords: Sendable {
    /// How long an online advisor stays online without a heartbeat, in seconds.
    let graceSeconds: Int

    /// The name a review shows once its author is gone.
    static let formerMember = "former member"

    /// The status as everyone sees it: an `online` whose heartbeats stopped reads `offline` at
    /// once, before the presence task writes it so.
    var statusSQL: String {
        "CASE WHEN a.status = 'online' AND a.heartbeat_at < now() - interval '\(graceSeconds) seconds' THEN 'offline' ELSE a.status END"
    }

    /// The columns `summary(_:)` reads, from `advisors a`.
    var summaryColumns: String {
        """
        a.account_id, a.display_name, a.headline, a.categories, a.price_cents, \(statusSQL) AS status, a.rating_key,
        a.review_count, a.languages, a.photo_url
        """
    }

    func summary(_ row: Row) throws -> Directory.AdvisorSummary {
        Directory.AdvisorSummary(
            id: try row.decode("account_id"), displayName: try row.decode("display_name"), headline: try row.decode("headline"),
            categories: try row.decode("categories"), pricePerMinuteCents: try row.decode("price_cents"),
            status: try Self.status(row), rating: Self.rating(try row.decode("rating_key")),
            reviewCount: try row.decode("review_count"), languages: try row.decode("languages"), photoUrl: try row.decode("photo_url"))
    }

    static func status(_ row: Row) throws -> Directory.Status {
        Directory.Status(rawValue: try row.decode("status", as: String.self)) ?? .offline
    }

    /// The mean rating from its key in hundredths; nil before the first review.
    static func rating(_ key: Int64) -> Double? { key < 0 ? nil : Double(key) / 100 }

    /// One advisor's profile with the newest reviews; nil when there is none, or when it is not
    /// listed and `viewer` is not its advisor.
    func profile(_ id: UUID, viewer: UUID?, on connection: Connection) throws -> Directory.Profile? {
        guard
            let row = try connection.queryOne(
                """
                SELECT \(summaryColumns), a.bio, a.years_experience, a.listed, a.created_at
                FROM advisors a WHERE a.account_id = $1 AND (a.listed OR a.account_id = $2)
                """, id, viewer)
        else { return nil }
        let summary = try summary(row)
        return Directory.Profile(
            id: summary.id, displayName: summary.displayName, headline: summary.headline, bio: try row.decode("bio"),
            categories: summary.categories, pricePerMinuteCents: summary.pricePerMinuteCents, languages: summary.languages,
            yearsExperience: try row.decode("years_experience"), photoUrl: summary.photoUrl, status: summary.status,
            rating: summary.rating, reviewCount: summary.reviewCount, listed: try row.decode("listed"),
            createdAt: try row.decode("created_at"), reviews: try reviews(of: id, before: Int64.max, limit: 5, on: connection),
            credentials: try connection.query(
                """
                SELECT kind, issuer, to_char(expires_on, 'YYYY-MM-DD') AS expires_on FROM credentials
                WHERE advisor_id = $1 AND status = 'verified' AND expires_on >= current_date ORDER BY seq
                """, id
            ).map {
                Directory.VerifiedCredential(
                    kind: try $0.decode("kind"), issuer: try $0.decode("issuer"), expiresOn: try $0.decode("expires_on"))
            })
    }

    /// The columns `review(_:)` reads, from `reviews r LEFT JOIN people p ON p.account_id = r.author_id`.
    static let reviewColumns =
        "r.id, r.seq, r.advisor_id, r.author_id, p.display_name AS author_name, r.rating, r.text, r.created_at, r.reply_text, r.replied_at"

    static func review(_ row: Row) throws -> Directory.Review {
        let authorId: UUID? = try row.decode("author_id")
        let name: String? = try row.decode("author_name")
        var reply: Directory.Review.Reply?
        if let text: String = try row.decode("reply_text") {
            reply = .init(text: text, createdAt: try row.decode("replied_at"))
        }
        return Directory.Review(
            id: try row.decode("id"), advisorId: try row.decode("advisor_id"),
            author: .init(id: name == nil ? nil : authorId, displayName: name ?? formerMember),
            rating: try row.decode("rating"), text: try row.decode("text"), createdAt: try row.decode("created_at"), reply: reply)
    }

    /// An advisor's reviews, newest first, before the review numbered `before`; one more than
    /// `limit` is read when the caller pages (the extra row says there is a next page).
    func reviews(of advisorId: UUID, before: Int64, limit: Int, on connection: Connection) throws -> [Directory.Review] {
        try reviewRows(of: advisorId, before: before, limit: limit, on: connection).map(Self.review)
    }

    func reviewRows(of advisorId: UUID, before: Int64, limit: Int, on connection: Connection) throws -> [Row] {
        try connection.query(
            """
            SELECT \(Self.reviewColumns) FROM reviews r LEFT JOIN people p ON p.account_id = r.author_id
            WHERE r.advisor_id = $1 AND r.seq < $2 AND r.hidden_at IS NULL ORDER BY r.seq DESC LIMIT $3
            """, advisorId, before, limit)
    }

    /// The display name accounts announced for a person, if the directory has heard of them.
    static func displayName(of accountId: UUID, on connection: Connection) throws -> String? {
        try connection.queryOne("SELECT display_name FROM people WHERE account_id = $1", accountId)?.decode("display_name")
    }
}
