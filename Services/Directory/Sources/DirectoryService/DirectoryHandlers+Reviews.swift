import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Reviews: a member reviews an advisor once per ended, paid chat; the advisor answers once.
extension DirectoryHandlers {
    static let reviewText = 1...2000

    func postReview(_ request: Directory.PostReview.Request, caller: Caller) async throws -> Directory.Review {
        guard let memberId = caller.accountId else { throw Self.unauthenticated }
        guard caller.has(.member) else { throw ServiceError(.forbidden, "only members review advisors") }
        var rules = FieldRules()
        rules.number(request.rating, field: "rating", range: 1...5)
        rules.text(request.text, field: "text", range: Self.reviewText)
        if request.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { rules.fail("text", "invalid") }
        try rules.check()
        try await ensureName(memberId, role: .member, caller: caller)
        let review = try await database.transaction { connection -> Directory.Review in
            guard
                try connection.queryOne(
                    "SELECT 1 FROM reviewable_chats WHERE chat_id = $1 AND member_id = $2 AND advisor_id = $3",
                    request.chatId, memberId, request.advisorId) != nil
            else {
                throw ServiceError(.reviewNotAllowed, "you may review an advisor after an ended, paid chat with them")
            }
            let id = UUID()
            guard
                try connection.execute(
                    """
                    INSERT INTO reviews (id, chat_id, advisor_id, author_id, rating, text) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (chat_id) DO NOTHING
                    """, id, request.chatId, request.advisorId, memberId, request.rating, request.text) == 1
            else { throw ServiceError(.alreadyReviewed, "this chat has been reviewed already") }
            // Kept current as reviews come, never recomputed per request.
            try connection.execute(
                "UPDATE advisors SET rating_sum = rating_sum + $2, review_count = review_count + 1 WHERE account_id = $1",
                request.advisorId, request.rating)
            try Outbox.append(
                Directory.ReviewReceived(advisorId: request.advisorId, reviewId: id, rating: request.rating, at: Date()), on: connection)
            return try Self.review(id, on: connection)
        }
        logger.info("review posted", metadata: ["review.id": "\(review.id)", "advisor.id": "\(request.advisorId)"])
        return review
    }

    func reviews(_ request: Directory.ListReviews.Request) async throws -> Page<Directory.Review> {
        let page = try PageCursor(request.page)
        let records = self.records
        return try await database.withConnection { connection in
            guard try connection.queryOne("SELECT 1 FROM advisors WHERE account_id = $1 AND listed", request.advisorId) != nil
            else { throw Self.noSuchAdvisor }
            let rows = try records.reviewRows(of: request.advisorId, before: page.before, limit: page.limit + 1, on: connection)
            return try page.page(rows, AdvisorRecords.review)
        }
    }

    func reply(_ request: Directory.ReplyToReview.Request, caller: Caller) async throws -> Directory.Review {
        let advisorId = try Self.advisorId(of: caller)
        var rules = FieldRules()
        rules.text(request.text, field: "text", range: Self.reviewText)
        if request.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { rules.fail("text", "invalid") }
        try rules.check()
        return try await database.transaction { connection in
            guard
                let row = try connection.queryOne(
                    "SELECT advisor_id, reply_text FROM reviews WHERE id = $1 FOR UPDATE", request.reviewId),
                try row.decode("advisor_id", as: UUID.self) == advisorId
            else { throw ServiceError(.notFound, "there is no review of yours with this id") }
            guard row.isNull("reply_text") else { throw ServiceError(.alreadyReplied, "you have answered this review already") }
            try connection.execute(
                "UPDATE reviews SET reply_text = $2, replied_at = now() WHERE id = $1", request.reviewId, request.text)
            return try Self.review(request.reviewId, on: connection)
        }
    }

    // MARK: Reports and moderation

    func reportReview(_ request: Directory.ReportReview.Request, caller: Caller) async throws -> Empty {
        guard let reporter = caller.accountId else { throw Self.unauthenticated }
        var rules = FieldRules()
        if !Directory.ReportReview.reasons.contains(request.reason) { rules.fail("reason", "invalid") }
        rules.text(request.note, field: "note", range: 0...500)
        try rules.check()
        try await database.transaction { connection in
            guard try connection.queryOne("SELECT 1 FROM reviews WHERE id = $1 AND hidden_at IS NULL", request.reviewId) != nil
            else { throw ServiceError(.notFound, "there is no review with this id") }
            try connection.execute(
                """
                INSERT INTO review_reports (review_id, reporter_id, reason, note) VALUES ($1, $2, $3, $4)
                ON CONFLICT (review_id, reporter_id) DO NOTHING
                """, request.reviewId, reporter, request.reason, request.note)
        }
        return Empty()
    }

    static func requireModerationStaff(_ caller: Caller) throws {
        guard caller.accountId != nil else { throw unauthenticated }
        guard caller.has(.support) || caller.has(.moderator) || caller.has(.admin) else {
            throw ServiceError(.forbidden, "only support staff and moderators decide reported reviews")
        }
    }

    func reviewReports(_ page: PageRequest, caller: Caller) async throws -> Page<Directory.ReportedReview> {
        try Self.requireModerationStaff(caller)
        let cursor = try PageCursor(page)
        return try await database.withConnection { connection in
            let rows = try connection.query(
                """
                SELECT \(AdvisorRecords.reviewColumns), o.reports, o.reasons, o.notes, o.first_at
                FROM (SELECT review_id, count(*) AS reports, array_agg(DISTINCT reason) AS reasons,
                          array_remove(array_agg(note), NULL) AS notes, min(created_at) AS first_at
                      FROM review_reports WHERE closed_at IS NULL GROUP BY review_id) o
                JOIN reviews r ON r.id = o.review_id LEFT JOIN people p ON p.account_id = r.author_id
                WHERE r.hidden_at IS NULL AND r.seq > $1 ORDER BY r.seq LIMIT $2
                """, cursor.after, cursor.limit + 1)
            return try cursor.page(rows) { row in
                Directory.ReportedReview(
                    review: try AdvisorRecords.review(row), reports: try row.decode("reports"), reasons: try row.decode("reasons"),
                    notes: try row.decode("notes"), firstReportedAt: try row.decode("first_at"))
            }
        }
    }

    /// Hiding is recorded for the review's author in accounts' audit log first (their words were
    /// acted on); an erased author has no access log to show it in.
    func decideReview(_ request: Directory.DecideReview.Request, caller: Caller) async throws -> Empty {
        try Self.requireModerationStaff(caller)
        var rules = FieldRules()
        if !["hide", "keep"].contains(request.action) { rules.fail("action", "invalid") }
        rules.reason(request.reason)
        try rules.check()
        let found = try await database.withConnection { connection in
            try connection.queryOne("SELECT author_id FROM reviews WHERE id = $1 AND hidden_at IS NULL", request.reviewId)
        }
        guard let found else { throw ServiceError(.notFound, "there is no shown review with this id") }
        let hide = request.action == "hide"
        if hide, let author: UUID = try found.decode("author_id") {
            _ = try await bus.call(
                Accounts.RecordStaffAccess.self, .init(subjectId: author, action: "staff.review-hidden", reason: request.reason),
                as: caller)
        }
        try await database.transaction { connection in
            if hide {
                guard
                    let hidden = try connection.queryOne(
                        "UPDATE reviews SET hidden_at = now() WHERE id = $1 AND hidden_at IS NULL RETURNING advisor_id, rating",
                        request.reviewId)
                else { throw ServiceError(.conflict, "this review has been hidden already") }
                try connection.execute(
                    "UPDATE advisors SET rating_sum = rating_sum - $2, review_count = review_count - 1 WHERE account_id = $1",
                    try hidden.decode("advisor_id", as: UUID.self), try hidden.decode("rating", as: Int.self))
            }
            try connection.execute(
                "UPDATE review_reports SET closed_at = now() WHERE review_id = $1 AND closed_at IS NULL", request.reviewId)
        }
        logger.info("reported review decided", metadata: ["review.id": "\(request.reviewId)", "review.action": "\(request.action)"])
        return Empty()
    }

    static func review(_ id: UUID, on connection: Connection) throws -> Directory.Review {
        guard
            let row = try connection.queryOne(
                "SELECT \(AdvisorRecords.reviewColumns) FROM reviews r LEFT JOIN people p ON p.account_id = r.author_id WHERE r.id = $1",
                id)
        else { throw ServiceError(.notFound, "there is no review with this id") }
        return try AdvisorRecords.review(row)
    }
}
