public import Foundation

/// A value that can be sent as a query parameter, in PostgreSQL's text format.
///
/// Parameters always travel separately from the SQL text (`PQexecParams`), never spliced in.
public protocol SQLEncodable: Sendable {
    /// The value in PostgreSQL's text input format; `nil` sends SQL NULL.
    var sqlText: String? { get }
}

/// A value that can be read from a column in PostgreSQL's text output format.
public protocol SQLDecodable {
    /// Reads the value from the column's text; throws `StoreError.decodingFailed` when it does not parse.
    init(sqlText: String) throws

    /// The value for SQL NULL. Only `Optional` has one; every other type throws (the default).
    static func sqlNull() throws -> Self
}

extension SQLDecodable {
    /// Throws `StoreError.decodingFailed`: a non-optional type has no value for NULL.
    public static func sqlNull() throws -> Self {
        throw StoreError.decodingFailed.with(context: "NULL read as non-optional \(Self.self)")
    }
}

/// SQL NULL as a parameter, where no typed optional is at hand.
public struct SQLNull: SQLEncodable, Equatable {
    /// SQL NULL.
    public init() {}
    /// Always `nil`: NULL.
    public var sqlText: String? { nil }
}

/// JSON text bound for, or read from, a `json`/`jsonb` column.
///
/// The text is passed through unchanged; PostgreSQL checks it. A `jsonb` column hands back its
/// own normalized rendering (key order and spacing may differ from what was stored).
public struct SQLJSON: SQLEncodable, SQLDecodable, Equatable {
    /// The JSON document's text.
    public var text: String

    /// Wraps JSON text.
    public init(_ text: String) {
        self.text = text
    }

    /// Wraps UTF-8 JSON bytes, e.g. a `JSONEncoder`'s output.
    public init(data: Data) {
        self.text = String(decoding: data, as: UTF8.self)
    }

    /// Reads the column's JSON text.
    public init(sqlText: String) {
        self.text = sqlText
    }

    /// The JSON text as UTF-8 bytes, ready for a `JSONDecoder`.
    public var data: Data { Data(text.utf8) }

    /// The JSON text.
    public var sqlText: String? { text }
}

// MARK: - Optional

extension Optional: SQLEncodable where Wrapped: SQLEncodable {
    /// The wrapped value's text, or `nil` (SQL NULL) for `.none`.
    public var sqlText: String? { self?.sqlText }
}

extension Optional: SQLDecodable where Wrapped: SQLDecodable {
    /// Reads the wrapped value.
    public init(sqlText: String) throws {
        self = try Wrapped(sqlText: sqlText)
    }

    /// `nil`: an optional reads NULL as `.none`.
    public static func sqlNull() throws -> Self { nil }
}

// MARK: - Text and numbers

extension String: SQLEncodable, SQLDecodable {
    /// The string itself.
    public var sqlText: String? { self }
    /// The column's text unchanged.
    public init(sqlText: String) { self = sqlText }
}

/// Parses an integer column, naming the type (never the value) when it fails.
private func parseInteger<T: FixedWidthInteger>(_ text: String, as type: T.Type) throws -> T {
    guard let value = T(text) else {
        throw StoreError.decodingFailed.with(context: "column text is not a valid \(T.self)")
    }
    return value
}

extension Int: SQLEncodable, SQLDecodable {
    /// The decimal digits.
    public var sqlText: String? { String(self) }
    /// Parses decimal digits (int2, int4, int8 columns).
    public init(sqlText: String) throws { self = try parseInteger(sqlText, as: Int.self) }
}

extension Int64: SQLEncodable, SQLDecodable {
    /// The decimal digits.
    public var sqlText: String? { String(self) }
    /// Parses decimal digits (int2, int4, int8 columns).
    public init(sqlText: String) throws { self = try parseInteger(sqlText, as: Int64.self) }
}

extension Int32: SQLEncodable, SQLDecodable {
    /// The decimal digits.
    public var sqlText: String? { String(self) }
    /// Parses decimal digits (int2, int4 columns).
    public init(sqlText: String) throws { self = try parseInteger(sqlText, as: Int32.self) }
}

extension Bool: SQLEncodable, SQLDecodable {
    /// `true` or `false`.
    public var sqlText: String? { self ? "true" : "false" }
    /// Reads PostgreSQL's `t`/`f` (and the spelled-out forms).
    public init(sqlText: String) throws {
        switch sqlText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw StoreError.decodingFailed.with(context: "column text is not a valid Bool")
        }
    }
}

extension Double: SQLEncodable, SQLDecodable {
    /// The shortest text that reads back as the same value; `Infinity`, `-Infinity`, `NaN` as PostgreSQL spells them.
    public var sqlText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return String(self)
    }

    /// Reads float4, float8 or numeric text, including `Infinity` and `NaN`.
    public init(sqlText: String) throws {
        switch sqlText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(sqlText) else {
                throw StoreError.decodingFailed.with(context: "column text is not a valid Double")
            }
            self = value
        }
    }
}

// MARK: - Foundation types

extension UUID: SQLEncodable, SQLDecodable {
    /// The canonical hyphenated form.
    public var sqlText: String? { lowercasedString }

    /// The canonical hyphenated lowercase form, as PostgreSQL writes it, written byte by byte:
    /// `uuidString.lowercased()` goes through a C format call and Unicode, which showed in every
    /// charged minute.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { text in
                var at = 0
                for (index, byte) in raw.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[at] = UInt8(ascii: "-")
                        at += 1
                    }
                    text[at] = hexDigits[Int(byte >> 4)]
                    text[at + 1] = hexDigits[Int(byte & 0x0F)]
                    at += 2
                }
                return at
            }
        }
    }

    /// Reads a `uuid` column: PostgreSQL's canonical form (either case), 32 hex digits with
    /// hyphens after the 8th, 12th, 16th and 20th.
    public init(sqlText: String) throws {
        let failed = StoreError.decodingFailed.with(context: "column text is not a valid UUID")
        var text = sqlText
        let parsed: uuid_t? = text.withUTF8 { utf8 -> uuid_t? in
            guard utf8.count == 36 else { return nil }
            var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let complete = withUnsafeMutableBytes(of: &value) { bytes -> Bool in
                var at = 0
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        guard utf8[at] == UInt8(ascii: "-") else { return false }
                        at += 1
                    }
                    guard let high = hexValue(utf8[at]), let low = hexValue(utf8[at + 1]) else { return false }
                    bytes[index] = high << 4 | low
                    at += 2
                }
                return true
            }
            return complete ? value : nil
        }
        guard let parsed else { throw failed }
        self = UUID(uuid: parsed)
    }
}

/// Lowercase hex digits, by value.
private let hexDigits = Array("0123456789abcdef".utf8)

extension Data: SQLEncodable, SQLDecodable {
    /// `bytea` hex format: `\x` followed by two lowercase hex digits per byte.
    public var sqlText: String? {
        var bytes: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        bytes.reserveCapacity(2 + count * 2)
        for byte in self {
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads `bytea` in hex format (the server's default output, which every connection pins).
    public init(sqlText: String) throws {
        let text = Array(sqlText.utf8)
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), text.count % 2 == 0 else {
            throw StoreError.decodingFailed.with(context: "column text is not bytea hex")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity((text.count - 2) / 2)
        var index = 2
        while index < text.count {
            guard let high = hexValue(text[index]), let low = hexValue(text[index + 1]) else {
                throw StoreError.decodingFailed.with(context: "column text is not bytea hex")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = Data(bytes)
    }
}

/// The value of one hex digit, or nil.
private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}

extension Array: SQLEncodable where Element: SQLEncodable {
    /// A one-dimensional array literal with every element quoted, so commas, braces, quotes,
    /// backslashes, empty strings and the word NULL all arrive as themselves; a `nil` element is
    /// SQL NULL. Send it with its element type: `$1::text[]`, `$1::uuid[]`, `$1::bigint[]`. Built
    /// byte by byte: a batch of minutes sends thousands of elements.
    public var sqlText: String? {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(2 + count * 40)
        for (index, element) in enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let text = element.sqlText else {
                bytes.append(contentsOf: "NULL".utf8)
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Array: SQLDecodable where Element == String {
    /// Reads a one-dimensional `text[]` in PostgreSQL's output format: `{a,"b c","d\"e"}`; an element
    /// that is NULL, or an array of more dimensions, does not decode.
    public init(sqlText: String) throws {
        let failed = StoreError.decodingFailed.with(context: "column text is not a one-dimensional text array")
        var bytes = [UInt8](sqlText.utf8)[...]
        guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else { throw failed }
        bytes = bytes.dropFirst().dropLast()
        var elements: [String] = []
        guard !bytes.isEmpty else {
            self = elements
            return
        }
        var index = bytes.startIndex
        while true {
            var element: [UInt8] = []
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                while true {
                    guard index < bytes.endIndex else { throw failed }
                    var byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\"") { break }
                    if byte == UInt8(ascii: "\\") {
                        guard index < bytes.endIndex else { throw failed }
                        byte = bytes[index]
                        index += 1
                    }
                    element.append(byte)
                }
            } else {
                while index < bytes.endIndex, bytes[index] != UInt8(ascii: ",") {
                    guard bytes[index] != UInt8(ascii: "{"), bytes[index] != UInt8(ascii: "\"") else { throw failed }
                    element.append(bytes[index])
                    index += 1
                }
                // An unquoted NULL is SQL NULL, which a [String] cannot hold.
                guard !element.isEmpty, !element.elementsEqual("NULL".utf8) else { throw failed }
            }
            elements.append(String(decoding: element, as: UTF8.self))
            guard index < bytes.endIndex else { break }
            guard bytes[index] == UInt8(ascii: ",") else { throw failed }
            index += 1
        }
        self = elements
    }
}
