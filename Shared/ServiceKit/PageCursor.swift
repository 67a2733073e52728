public import Foundation
public import Models
public import Store

/// Keyset pages over a `bigserial` column: the cursor is the last value shown (base64 of its
/// digits), opaque to callers. Newest first reads the rows `before` it; oldest first, `after` it.
public struct PageCursor: Sendable {
    public let limit: Int
    /// The cursor's value, if a cursor was given.
    public let seq: Int64?

    /// Checks the limit (1…100: 422 otherwise) and the cursor: text that reads as base64 but was
    /// never a cursor names no page (404), as an id that names nothing does.
    public init(_ request: PageRequest) throws {
        guard (1...PageRequest.maxLimit).contains(request.limit) else {
            throw ServiceError(.validationFailed, "limit is 1 to 100", fieldErrors: [FieldError(field: "limit", code: "invalid")])
        }
        limit = request.limit
        seq = try request.cursor.map { cursor in
            guard let data = Data(base64Encoded: cursor), let value = Int64(String(decoding: data, as: UTF8.self)), value > 0 else {
                throw Self.noPage
            }
            return value
        }
    }

    /// Text that reads as base64 but was never a cursor: it names no page.
    public static let noPage = ServiceError(.notFound, "no page at this cursor: pass a nextCursor as it was given")

    /// For newest-first pages: rows below this.
    public var before: Int64 { seq ?? Int64.max }
    /// For oldest-first pages: rows above this.
    public var after: Int64 { seq ?? 0 }

    /// The first `limit` rows (of `limit + 1` read) as items, and a cursor when there are more.
    public func page<Item: Codable & Sendable & Equatable>(
        _ rows: [Row], column: String = "seq", _ item: (Row) throws -> Item
    ) throws -> Page<Item> {
        let shown = Array(rows.prefix(limit))
        var next: String?
        if rows.count > limit, let last = shown.last {
            next = Data(String(try last.decode(column, as: Int64.self)).utf8).base64EncodedString()
        }
        return Page(items: try shown.map(item), nextCursor: next)
    }
}
