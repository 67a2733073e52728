import Foundation
import Models
import ServiceKit
import Store

/// `GET /v1/advisors`: listed advisors matching free text and filters, sorted, one page at a time,
/// with facet counts.
///
/// Text matches by full-text search, every word as a prefix (`tar` finds tarot); a word that no
/// profile's word begins with is corrected to the known words closest to it by trigrams (`tarrot`
/// finds tarot: `search_words`), so the match itself is always the full-text index. With text, a
/// category named by it ranks first, then the exact phrase, then the text rank. Facets are counted
/// in one pass over the matches. Pages are keyset pages on (sort key, id): a status change mid-walk
/// neither repeats nor skips anyone, since status is a filter, never a key.
struct AdvisorSearch: Sendable {
    let records: AdvisorRecords

    static let sorts = ["relevance", "rating", "price", "reviews", "newest"]
    static let facetNames = ["category", "status", "language"]
    static let maxQueryLength = 100

    /// A validated query: the request's filters, with its text reduced to what the SQL uses.
    struct Query {
        var text: String?
        /// The text's words, letters and digits only.
        var words: [String]
        /// `word:* & (other:* | correction) …` for `to_tsquery('simple', …)`, once the words are
        /// looked up (`resolveText`).
        var textQuery: String?
        var category: String?
        var status: Directory.Status?
        var maxPriceCents: Int?
        /// In hundredths, as `rating_key` holds it.
        var minRatingKey: Int?
        var language: String?
        var sort: String
        var facets: [String]
        var limit: Int
        var after: (key: Int64, id: UUID)?
    }

    /// Checks every parameter (one 422 naming all that fail) and the cursor.
    static func validate(_ request: Directory.Search.Request, categories: Set<String>) throws -> Query {
        var rules = FieldRules()
        rules.text(request.q, field: "q", range: 0...maxQueryLength)
        if let category = request.category, !categories.contains(category) { rules.fail("category", "unknown_category") }
        rules.number(request.maxPriceCents, field: "maxPriceCents", range: 0...1_000_000)
        if let rating = request.minRating, !(0...5).contains(rating) { rules.fail("minRating", "out_of_range") }
        if let language = request.language, !ProfileRules.isLanguageCode(language) { rules.fail("language", "invalid") }
        if let sort = request.sort, !sorts.contains(sort) { rules.fail("sort", "invalid") }
        for facet in request.facets where !facetNames.contains(facet) { rules.fail("facets", "invalid") }
        rules.number(request.limit, field: "limit", range: 1...PageRequest.maxLimit)
        try rules.check()

        let text = request.q?.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let words = (text ?? "").split(whereSeparator: { !($0.isLetter || $0.isNumber) })
            .map { String($0.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init)) }
            .filter { !$0.isEmpty }
        let hasText = !words.isEmpty
        let sort = request.sort ?? (hasText ? "relevance" : "rating")
        var query = Query(
            text: hasText ? text : nil, words: words,
            category: request.category, status: request.status, maxPriceCents: request.maxPriceCents,
            minRatingKey: request.minRating.map { Int(($0 * 100).rounded(.up)) }, language: request.language, sort: sort,
            facets: Array(Set(request.facets)).sorted(), limit: request.limit)
        if let cursor = request.cursor {
            query.after = try decodeCursor(cursor, sort: sort)
        }
        return query
    }

    func run(_ query: Query, on connection: Connection) throws -> Directory.Search.Response {
        let query = try Self.resolveText(query, on: connection)
        let page = pageStatement(query)
        let rows = try connection.queryPlannedEachTime(page.text, parameters: page.sql.parameters)
        let shown = Array(rows.prefix(query.limit))
        var next: String?
        if rows.count > query.limit, let last = shown.last {
            next = Self.encodeCursor(sort: query.sort, key: try last.decode("sort_key"), id: try last.decode("account_id"))
        }
        var facets: [String: [String: Int]]?
        if let statement = facetStatement(query) {
            var counts = Dictionary(uniqueKeysWithValues: query.facets.map { ($0, [String: Int]()) })
            for row in try connection.queryPlannedEachTime(statement.text, parameters: statement.sql.parameters) {
                counts[try row.decode("facet", as: String.self), default: [:]][try row.decode("v", as: String.self)] =
                    try row.decode("n", as: Int.self)
            }
            // A selected value is always shown, with 0 when nothing matches it.
            for (facet, selected) in [("category", query.category), ("language", query.language), ("status", query.status?.rawValue)] {
                if let selected, counts[facet] != nil, counts[facet]?[selected] == nil { counts[facet]?[selected] = 0 }
            }
            facets = counts
        }
        return Directory.Search.Response(items: try shown.map(records.summary), nextCursor: next, facets: facets)
    }

    /// The plans PostgreSQL chooses for `query`'s page and facets (`directory explain-search`),
    /// run once with timings, so a benchmark can show which indexes they use.
    func plans(_ query: Query, on connection: Connection) throws -> [(name: String, plan: String)] {
        let query = try Self.resolveText(query, on: connection)
        let page = pageStatement(query)
        var statements = [("page", page.text, page.sql.parameters)]
        if let facets = facetStatement(query) { statements.append(("facets", facets.text, facets.sql.parameters)) }
        return try statements.map { name, text, parameters in
            let lines = try connection.query("EXPLAIN (ANALYZE, COSTS OFF) " + text, parameters: parameters)
                .map { try $0.decode("QUERY PLAN", as: String.self) }
            return (name, lines.joined(separator: "\n"))
        }
    }

    /// The text query: each word as a prefix; a word that no known word begins with, also as the
    /// known words most like it (at most three, trigram similarity at least 0.3).
    static func resolveText(_ query: Query, on connection: Connection) throws -> Query {
        guard !query.words.isEmpty else { return query }
        // The similar words are looked up only for a word no known word begins with (CASE runs
        // its subquery only in the branch taken): most words are known, and the lookup is not free.
        let rows = try connection.query(
            """
            SELECT q.w, k.known,
                CASE WHEN k.known THEN '{}'::text[] ELSE ARRAY(
                    SELECT s.word FROM search_words s WHERE s.word OPERATOR(public.%) q.w
                    ORDER BY public.similarity(s.word, q.w) DESC, s.word LIMIT 3) END AS similar
            FROM unnest($1::text[]) WITH ORDINALITY AS q(w, n),
                LATERAL (SELECT starts_with(
                    coalesce((SELECT s.word FROM search_words s WHERE s.word >= q.w ORDER BY s.word LIMIT 1), ''), q.w) AS known) k
            ORDER BY q.n
            """, query.words)
        let terms = try rows.map { row -> String in
            let word = try row.decode("w", as: String.self)
            guard try !row.decode("known", as: Bool.self) else { return "\(word):*" }
            // Only plain words go into the query text; a stored word with punctuation is skipped.
            let similar = try row.decode("similar", as: [String].self).filter { $0.allSatisfy { $0.isLetter || $0.isNumber } }
            return similar.isEmpty ? "\(word):*" : "(" + (["\(word):*"] + similar).joined(separator: " | ") + ")"
        }
        var resolved = query
        resolved.textQuery = terms.joined(separator: " & ")
        return resolved
    }

    /// One page: the matching advisors after the cursor, in the sort's order, one more than the
    /// limit (the extra row says there is a next page).
    private func pageStatement(_ query: Query) -> (text: String, sql: SQLText) {
        var sql = SQLText()
        let filters = filterClauses(query, sql: &sql).values.joined(separator: " AND ")
        let (key, descending) = sortKey(query, &sql)
        var paging = ""
        if let after = query.after {
            let comparison = descending ? "<" : ">"
            paging = "WHERE (s.sort_key \(comparison) \(sql.bind(after.key)) OR (s.sort_key = \(sql.bind(after.key)) AND s.account_id > \(sql.bind(after.id))))"
        }
        let text = """
            SELECT * FROM (SELECT \(records.summaryColumns), \(key) AS sort_key FROM advisors a WHERE \(filters)) s
            \(paging) ORDER BY s.sort_key \(descending ? "DESC" : "ASC"), s.account_id LIMIT \(sql.bind(query.limit + 1))
            """
        return (text, sql)
    }

    /// Every facet asked for, in one pass over the advisors matching the filters of no facet asked
    /// for: each facet counts the matches of every other filter (`facet`, `v`, `n` rows).
    private func facetStatement(_ query: Query) -> (text: String, sql: SQLText)? {
        guard !query.facets.isEmpty else { return nil }
        var sql = SQLText()
        var clauses = filterClauses(query, sql: &sql)
        // A requested facet's own filter becomes a column, so the other facets can apply it.
        var selected: [String: String] = [:]
        for facet in query.facets {
            selected[facet] = clauses.removeValue(forKey: facet) ?? "true"
        }
        let columns = query.facets.map { "(\(selected[$0]!)) AS in_\($0)" }.joined(separator: ", ")
        let others = { (facet: String) in
            (query.facets.filter { $0 != facet }.map { "in_\($0)" } + ["true"]).joined(separator: " AND ")
        }
        let counts = query.facets.map { facet -> String in
            switch facet {
            case "category":
                return "SELECT 'category' AS facet, v, count(*) AS n FROM matches, unnest(categories) v WHERE \(others(facet)) GROUP BY v"
            case "language":
                return "SELECT 'language' AS facet, v, count(*) AS n FROM matches, unnest(languages) v WHERE \(others(facet)) GROUP BY v"
            default:
                return "SELECT 'status' AS facet, status AS v, count(*) AS n FROM matches WHERE \(others(facet)) GROUP BY status"
            }
        }
        let text = """
            WITH matches AS MATERIALIZED (
                SELECT a.categories, a.languages, \(records.statusSQL) AS status, \(columns)
                FROM advisors a WHERE \(clauses.values.joined(separator: " AND ")))
            \(counts.joined(separator: "\nUNION ALL "))
            """
        return (text, sql)
    }

    /// The conditions of `query`, by the facet they filter (`text`, `listed` and the others by
    /// their own names), each with its parameters bound.
    private func filterClauses(_ query: Query, sql: inout SQLText) -> [String: String] {
        var clauses = ["listed": "a.listed"]
        if let textQuery = query.textQuery {
            clauses["text"] = "a.document @@ to_tsquery('simple', \(sql.bind(textQuery)))"
        }
        if let category = query.category {
            clauses["category"] = "a.categories @> ARRAY[\(sql.bind(category))]::text[]"
        }
        if let status = query.status {
            // Spelled out rather than comparing the computed status, so `online` can use the
            // index of online advisors by heartbeat.
            let fresh = "a.heartbeat_at >= now() - interval '\(records.graceSeconds) seconds'"
            switch status {
            case .online: clauses["status"] = "(a.status = 'online' AND \(fresh))"
            case .busy: clauses["status"] = "a.status = 'busy'"
            case .offline: clauses["status"] = "(a.status = 'offline' OR (a.status = 'online' AND NOT (\(fresh))))"
            }
        }
        if let price = query.maxPriceCents { clauses["price"] = "a.price_cents <= \(sql.bind(price))" }
        if let rating = query.minRatingKey { clauses["rating"] = "a.rating_key >= \(sql.bind(rating))" }
        if let language = query.language {
            clauses["language"] = "a.languages @> ARRAY[\(sql.bind(language))]::text[]"
        }
        return clauses
    }

    /// The key pages are ordered and cut by, and whether it descends; ties go by id.
    private func sortKey(_ query: Query, _ sql: inout SQLText) -> (String, Bool) {
        switch query.sort {
        case "relevance":
            guard let text = query.text, let textQuery = query.textQuery else { return ("a.rating_key", true) }
            let q = sql.bind(text)
            // A category named by the text first, then the exact phrase, then the text rank; in
            // millionths, so that the key is exact in a cursor.
            let score = """
                (CASE WHEN a.categories && ARRAY(SELECT c.slug FROM categories c WHERE c.slug = \(q) OR lower(c.name) = \(q)
                    OR (length(\(q)) >= 3 AND (starts_with(lower(c.name), \(q)) OR starts_with(c.slug, \(q))))
                    OR public.similarity(lower(c.name), \(q)) >= 0.5) THEN 4 ELSE 0 END
                 + CASE WHEN strpos(a.search_text, \(q)) > 0 THEN 2 ELSE 0 END
                 + ts_rank(a.document, to_tsquery('simple', \(sql.bind(textQuery)))))
                """
            return ("round(\(score) * 1000000)::bigint", true)
        case "price": return ("a.price_cents::bigint", false)
        case "reviews": return ("a.review_count::bigint", true)
        case "newest": return ("a.seq", true)
        default: return ("a.rating_key", true)
        }
    }

    static func encodeCursor(sort: String, key: Int64, id: UUID) -> String {
        Data("\(sort) \(key) \(id.uuidString.lowercased())".utf8).base64EncodedString()
    }

    static func decodeCursor(_ cursor: String, sort: String) throws -> (key: Int64, id: UUID) {
        // Text that was never a cursor names no page (404, as in every list); a cursor of another
        // sort is a mistake of the caller's (422).
        let none = PageCursor.noPage
        guard cursor.utf8.count <= 200, let data = Data(base64Encoded: cursor) else { throw none }
        let parts = String(decoding: data, as: UTF8.self).split(separator: " ")
        guard parts.count == 3, let key = Int64(parts[1]), let id = UUID(uuidString: String(parts[2])) else { throw none }
        guard parts[0] == sort else {
            throw ServiceError(
                .validationFailed, "the cursor is not valid for this query", fieldErrors: [FieldError(field: "cursor", code: "invalid")])
        }
        return (key, id)
    }
}

/// SQL text built with its parameters: `bind` appends a value and returns its placeholder, cast
/// to the value's type (parameters travel untyped, and `length($1)` alone would be ambiguous).
struct SQLText {
    private(set) var parameters: [any SQLEncodable] = []

    mutating func bind(_ value: String) -> String { placeholder(value, "text") }
    mutating func bind(_ value: Int) -> String { placeholder(value, "bigint") }
    mutating func bind(_ value: Int64) -> String { placeholder(value, "bigint") }
    mutating func bind(_ value: UUID) -> String { placeholder(value, "uuid") }

    private mutating func placeholder(_ value: any SQLEncodable, _ type: String) -> String {
        parameters.append(value)
        return "$\(parameters.count)::\(type)"
    }
}
