import Foundation
import Models
import ServiceKit
import Store

/// `GET /v1/advisors`: listed advisors matching free text and filters, sorted, one page at a time,
/// with facet counts.
///
/// Text matches by full-text search with prefixes (`tar` finds tarot) or by trigram word
/// similarity (`tarrot` finds tarot); with text, a category named by it ranks first, then an exact
/// phrase, then the text rank and the similarity. Pages are keyset pages on (sort key, id): a
/// status change mid-walk neither repeats nor skips anyone, since status is a filter, never a key.
struct AdvisorSearch: Sendable {
    let records: AdvisorRecords

    static let sorts = ["relevance", "rating", "price", "reviews", "newest"]
    static let facetNames = ["category", "status", "language"]
    static let maxQueryLength = 100

    /// A validated query: the request's filters, with its text reduced to what the SQL uses.
    struct Query {
        var text: String?
        /// `word:* & word:*`, letters and digits only, for `to_tsquery('simple', …)`.
        var prefixQuery: String?
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
            text: hasText ? text : nil, prefixQuery: hasText ? words.map { "\($0):*" }.joined(separator: " & ") : nil,
            category: request.category, status: request.status, maxPriceCents: request.maxPriceCents,
            minRatingKey: request.minRating.map { Int(($0 * 100).rounded(.up)) }, language: request.language, sort: sort,
            facets: Array(Set(request.facets)).sorted(), limit: request.limit)
        if let cursor = request.cursor {
            query.after = try decodeCursor(cursor, sort: sort)
        }
        return query
    }

    func run(_ query: Query, on connection: Connection) throws -> Directory.Search.Response {
        var sql = SQLText()
        let filters = whereClause(query, excluding: nil, &sql)
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
        let rows = try connection.query(text, parameters: sql.parameters)
        let shown = Array(rows.prefix(query.limit))
        var next: String?
        if rows.count > query.limit, let last = shown.last {
            next = Self.encodeCursor(sort: query.sort, key: try last.decode("sort_key"), id: try last.decode("account_id"))
        }
        var facets: [String: [String: Int]]?
        if !query.facets.isEmpty {
            var counts: [String: [String: Int]] = [:]
            for facet in query.facets { counts[facet] = try count(facet, query, on: connection) }
            facets = counts
        }
        return Directory.Search.Response(items: try shown.map(records.summary), nextCursor: next, facets: facets)
    }

    /// The query plan of `query`'s page, for the benchmark to show which indexes it uses.
    func plan(_ query: Query, on connection: Connection) throws -> String {
        var sql = SQLText()
        let filters = whereClause(query, excluding: nil, &sql)
        let (key, descending) = sortKey(query, &sql)
        let text = """
            EXPLAIN SELECT \(records.summaryColumns), \(key) AS sort_key FROM advisors a WHERE \(filters)
            ORDER BY sort_key \(descending ? "DESC" : "ASC"), a.account_id LIMIT \(sql.bind(query.limit + 1))
            """
        return try connection.query(text, parameters: sql.parameters).map { try $0.decode("QUERY PLAN", as: String.self) }
            .joined(separator: "\n")
    }

    /// Each value of `facet` with the number of advisors matching every other filter; a value the
    /// query selects is always present, with 0 when nothing matches it.
    private func count(_ facet: String, _ query: Query, on connection: Connection) throws -> [String: Int] {
        var sql = SQLText()
        let filters = whereClause(query, excluding: facet, &sql)
        let text: String
        let selected: String?
        switch facet {
        case "category":
            text = "SELECT v, count(*) AS n FROM advisors a, unnest(a.categories) v WHERE \(filters) GROUP BY v"
            selected = query.category
        case "language":
            text = "SELECT v, count(*) AS n FROM advisors a, unnest(a.languages) v WHERE \(filters) GROUP BY v"
            selected = query.language
        default:
            text = "SELECT \(records.statusSQL) AS v, count(*) AS n FROM advisors a WHERE \(filters) GROUP BY 1"
            selected = query.status?.rawValue
        }
        var counts: [String: Int] = [:]
        for row in try connection.query(text, parameters: sql.parameters) {
            counts[try row.decode("v", as: String.self)] = try row.decode("n", as: Int.self)
        }
        if let selected, counts[selected] == nil { counts[selected] = 0 }
        return counts
    }

    /// The conditions of `query`, leaving out the filter of the facet being counted.
    private func whereClause(_ query: Query, excluding facet: String?, _ sql: inout SQLText) -> String {
        var clauses = ["a.listed"]
        if let text = query.text, let prefix = query.prefixQuery {
            clauses.append(
                "(a.document @@ to_tsquery('simple', \(sql.bind(prefix))) OR \(sql.bind(text)) OPERATOR(public.<<%) a.search_text)")
        }
        if let category = query.category, facet != "category" {
            clauses.append("a.categories @> ARRAY[\(sql.bind(category))]::text[]")
        }
        if let status = query.status, facet != "status" {
            clauses.append("(\(records.statusSQL)) = \(sql.bind(status.rawValue))")
        }
        if let price = query.maxPriceCents { clauses.append("a.price_cents <= \(sql.bind(price))") }
        if let rating = query.minRatingKey { clauses.append("a.rating_key >= \(sql.bind(rating))") }
        if let language = query.language, facet != "language" {
            clauses.append("a.languages @> ARRAY[\(sql.bind(language))]::text[]")
        }
        return clauses.joined(separator: " AND ")
    }

    /// The key pages are ordered and cut by, and whether it descends; ties go by id.
    private func sortKey(_ query: Query, _ sql: inout SQLText) -> (String, Bool) {
        switch query.sort {
        case "relevance":
            guard let text = query.text, let prefix = query.prefixQuery else { return ("a.rating_key", true) }
            let q = sql.bind(text)
            // A category named by the text first, then the exact phrase, then rank and similarity;
            // in millionths, so that the key is exact in a cursor.
            let score = """
                (CASE WHEN a.categories && ARRAY(SELECT c.slug FROM categories c WHERE c.slug = \(q) OR lower(c.name) = \(q)
                    OR (length(\(q)) >= 3 AND (starts_with(lower(c.name), \(q)) OR starts_with(c.slug, \(q))))
                    OR public.similarity(lower(c.name), \(q)) >= 0.5) THEN 4 ELSE 0 END
                 + CASE WHEN strpos(a.search_text, \(q)) > 0 THEN 2 ELSE 0 END
                 + ts_rank(a.document, to_tsquery('simple', \(sql.bind(prefix))))
                 + public.strict_word_similarity(\(q), a.search_text))
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
        let invalid = ServiceError(
            .validationFailed, "the cursor is not valid for this query", fieldErrors: [FieldError(field: "cursor", code: "invalid")])
        guard cursor.utf8.count <= 200, let data = Data(base64Encoded: cursor) else { throw invalid }
        let parts = String(decoding: data, as: UTF8.self).split(separator: " ")
        guard parts.count == 3, parts[0] == sort, let key = Int64(parts[1]), let id = UUID(uuidString: String(parts[2])) else {
            throw invalid
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
