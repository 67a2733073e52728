import Foundation
public import Models

/// A request's field checks, collected so that one 422 names every field that fails.
///
/// Lengths count Unicode code points, as `minLength`/`maxLength` in the OpenAPI documents do, so
/// the documents and the services agree on every string.
public struct FieldRules: Sendable {
    public private(set) var errors: [FieldError] = []

    public init() {}

    public mutating func fail(_ field: String, _ code: String) {
        errors.append(FieldError(field: field, code: code))
    }

    /// Free text kept as given, within `range` characters, no NUL (PostgreSQL text cannot hold one).
    public mutating func text(_ value: String?, field: String, range: ClosedRange<Int>) {
        guard let value else { return }
        if !range.contains(value.unicodeScalars.count) || value.contains("\0") {
            fail(field, "invalid")
        }
    }

    /// Why staff act on a person's data: 1–500 characters, not only spaces (audited and shown to
    /// the person, so it must say something).
    public mutating func reason(_ value: String, field: String = "reason") {
        words(value, field: field, range: 1...500)
    }

    /// Free text that must say something: within `range` characters, not blank.
    public mutating func words(_ value: String, field: String, range: ClosedRange<Int>) {
        text(value, field: field, range: range)
        if Self.isBlank(value) { fail(field, "required") }
    }

    /// Nothing but white space: Unicode's, and the separators U+001C–U+001F that the documents'
    /// `\S` (ECMAScript and Python regular expressions) also counts as space.
    static func isBlank(_ value: String) -> Bool {
        value.unicodeScalars.allSatisfy { $0.properties.isWhitespace || (0x1C...0x1F).contains($0.value) }
    }

    /// A whole number within `range`.
    public mutating func number(_ value: Int?, field: String, range: ClosedRange<Int>) {
        guard let value else { return }
        if !range.contains(value) { fail(field, "out_of_range") }
    }

    /// Throws 422 with every field error collected, when there is one.
    public func check() throws {
        guard errors.isEmpty else {
            throw ServiceError(.validationFailed, "some fields are not valid", fieldErrors: errors)
        }
    }
}
