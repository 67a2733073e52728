import Foundation
import Models
import ServiceKit
import Store

/// What the directory holds about a person, and how it forgets them.
enum DirectoryPrivacy {
    static func hooks(records: AdvisorRecords) -> PrivacyHooks {
        PrivacyHooks(
            export: { request, connection in try export(request.accountId, records: records, on: connection) },
            erase: erase)
    }

    /// The directory's section of a person's export.
    struct Section: Codable {
        struct FavoriteRecord: Codable {
            var advisorId: UUID
            var notifyWhenOnline: Bool
            var createdAt: Date
        }
        var profile: Directory.Profile?
        var credentials: [Directory.Credential]
        var reviewsWritten: [Directory.Review]
        var reviewsReceived: [Directory.Review]
        var favorites: [FavoriteRecord]
    }

    /// The profile (its reviews in `reviewsReceived`), credentials, reviews written and received, favorites.
    static func export(_ id: UUID, records: AdvisorRecords, on connection: Connection) throws -> JSONValue {
        var profile = try records.profile(id, viewer: id, on: connection)
        profile?.reviews = []
        let select = "SELECT \(AdvisorRecords.reviewColumns) FROM reviews r LEFT JOIN people p ON p.account_id = r.author_id"
        let section = Section(
            profile: profile,
            credentials: try connection.query(
                "SELECT \(DirectoryHandlers.credentialColumns) FROM credentials WHERE advisor_id = $1 ORDER BY seq", id
            ).map(DirectoryHandlers.credential),
            reviewsWritten: try connection.query("\(select) WHERE r.author_id = $1 ORDER BY r.seq", id).map(AdvisorRecords.review),
            reviewsReceived: try connection.query("\(select) WHERE r.advisor_id = $1 ORDER BY r.seq", id).map(AdvisorRecords.review),
            favorites: try connection.query(
                "SELECT advisor_id, notify_when_online, created_at FROM favorites WHERE member_id = $1 ORDER BY seq", id
            ).map {
                Section.FavoriteRecord(
                    advisorId: try $0.decode("advisor_id"), notifyWhenOnline: try $0.decode("notify_when_online"),
                    createdAt: try $0.decode("created_at"))
            })
        return try JSONValue(encoding: section)
    }

    /// The advisor's profile, credentials, the reviews of it and the words only it held go; reviews the person wrote stay under
    /// "former member", linked to nobody; favorites and public name go.
    static func erase(_ id: UUID, on connection: Connection) throws {
        let words = try connection.query(
            "SELECT DISTINCT w.lexeme FROM advisors a, unnest(a.document) w WHERE a.account_id = $1", id
        ).map { try $0.decode("lexeme", as: String.self) }
        try connection.execute("DELETE FROM reviews WHERE advisor_id = $1", id)
        try connection.execute("DELETE FROM advisors WHERE account_id = $1", id)
        // The profile's words leave the typo list unless another listed profile holds them.
        for word in words where !word.isEmpty && word.allSatisfy({ $0.isLetter || $0.isNumber }) {
            try connection.execute(
                """
                DELETE FROM search_words WHERE word = $1
                    AND NOT EXISTS (SELECT 1 FROM advisors b WHERE b.listed AND b.document @@ to_tsquery('simple', $1))
                """, word)
        }
        try connection.execute("DELETE FROM credentials WHERE advisor_id = $1", id)
        try connection.execute("UPDATE reviews SET author_id = NULL WHERE author_id = $1", id)
        try connection.execute("DELETE FROM favorites WHERE member_id = $1 OR advisor_id = $1", id)
        try connection.execute("DELETE FROM reviewable_chats WHERE member_id = $1 OR advisor_id = $1", id)
        try connection.execute("DELETE FROM review_reports WHERE reporter_id = $1", id)
        try connection.execute("DELETE FROM people WHERE account_id = $1", id)
    }
}
