/// One result row: column names and the values in PostgreSQL's text format, read with `decode`.
public struct Row: Sendable {
    /// Column names and their positions, shared by every row of one result.
    final class Layout: Sendable {
        let columns: [String]
        let positions: [String: Int]

        init(columns: [String]) {
            self.columns = columns
            // The first column of a name wins, as in SQL: `SELECT a.id, b.id` decodes "id" as a.id.
            self.positions = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let layout: Layout
    let values: [String?]

    init(layout: Layout, values: [String?]) {
        self.layout = layout
        self.values = values
    }

    /// The column names, in result order.
    public var columns: [String] { layout.columns }

    /// Reads the column named `column`; throws `StoreError.decodingFailed` if it is missing,
    /// NULL for a non-optional type, or not readable as `T`.
    public func decode<T: SQLDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let index = layout.positions[column] else {
            throw StoreError.decodingFailed.with(context: "no column named \"\(column)\"")
        }
        return try decodeValue(at: index, named: "\"\(column)\"", as: type)
    }

    /// Reads the column at `index` (0-based); throws `StoreError.decodingFailed` if there is no such
    /// column, or it is NULL for a non-optional type, or not readable as `T`.
    public func decode<T: SQLDecodable>(_ index: Int, as type: T.Type = T.self) throws -> T {
        guard values.indices.contains(index) else {
            throw StoreError.decodingFailed.with(context: "no column at index \(index)")
        }
        return try decodeValue(at: index, named: "at index \(index)", as: type)
    }

    /// Whether the column named `column` holds NULL (false when there is no such column).
    public func isNull(_ column: String) -> Bool {
        guard let index = layout.positions[column] else { return false }
        return values[index] == nil
    }

    private func decodeValue<T: SQLDecodable>(at index: Int, named name: String, as type: T.Type) throws -> T {
        do {
            guard let text = values[index] else { return try T.sqlNull() }
            return try T(sqlText: text)
        } catch let error as StoreError {
            // Name the column, keep the type; the value itself never goes into an error.
            throw error.with(context: "column \(name): \(error.context ?? "cannot decode as \(T.self)")")
        } catch {
            throw StoreError.decodingFailed.with(context: "column \(name): cannot decode as \(T.self)")
        }
    }
}
