import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Admins add boards, and rename, re-describe or archive them; nothing about a board is deleted.
struct BoardsAdmin: Sendable {
    let database: Database
    let logger: Logger

    func create(_ request: Boards.CreateBoard.Request, caller: Caller) async throws -> Boards.Board {
        try Self.requireAdmin(caller)
        var rules = FieldRules()
        Self.checkSlug(request.slug, &rules)
        rules.words(request.name, field: "name", range: 1...60)
        rules.text(request.description, field: "description", range: 0...300)
        try rules.check()
        let board = try await database.transaction { connection -> Boards.Board in
            guard
                let row = try connection.queryOne(
                    """
                    INSERT INTO boards (slug, name, description, advisors_only, position)
                    VALUES ($1, $2, $3, $4, (SELECT coalesce(max(position), 0) + 1 FROM boards))
                    ON CONFLICT (slug) DO NOTHING RETURNING \(Self.columns)
                    """, request.slug, request.name, request.description, request.advisorsOnly ?? false)
            else { throw ServiceError(.conflict, "there is a board with this slug already (archived boards keep theirs)") }
            return try Self.board(row)
        }
        logger.info("board added", metadata: ["board": "\(request.slug)"])
        return board
    }

    func update(_ request: Boards.UpdateBoard.Request, caller: Caller) async throws -> Boards.Board {
        try Self.requireAdmin(caller)
        var rules = FieldRules()
        if let name = request.name { rules.words(name, field: "name", range: 1...60) }
        rules.text(request.description, field: "description", range: 0...300)
        try rules.check()
        let board = try await database.transaction { connection -> Boards.Board in
            guard
                let row = try connection.queryOne(
                    """
                    UPDATE boards SET name = coalesce($2, name), description = coalesce($3, description),
                        advisors_only = coalesce($4, advisors_only), archived = coalesce($5, archived)
                    WHERE slug = $1 RETURNING \(Self.columns)
                    """, request.slug, request.name, request.description, request.advisorsOnly, request.archived)
            else { throw BoardsHandlers.noBoard }
            return try Self.board(row)
        }
        logger.info("board changed", metadata: ["board": "\(request.slug)"])
        return board
    }

    private static let columns = "slug, name, description, thread_count, advisors_only"

    private static func board(_ row: Row) throws -> Boards.Board {
        Boards.Board(
            slug: try row.decode("slug"), name: try row.decode("name"), description: try row.decode("description"),
            threadCount: try row.decode("thread_count"), advisorsOnly: try row.decode("advisors_only"))
    }

    private static func requireAdmin(_ caller: Caller) throws {
        guard caller.accountId != nil else { throw ServiceError(.unauthenticated, "sign in first") }
        guard caller.has(.admin) else { throw ServiceError(.forbidden, "admins manage the boards") }
    }

    /// Lower-case letters and digits in hyphen-separated words, up to 40 characters.
    private static func checkSlug(_ slug: String, _ rules: inout FieldRules) {
        let words = slug.split(separator: "-", omittingEmptySubsequences: false)
        let valid = (1...40).contains(slug.count) && words.allSatisfy { word in
            !word.isEmpty && word.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
        }
        if !valid { rules.fail("slug", "invalid") }
    }
}
