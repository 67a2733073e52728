import Foundation
import Models
import ServiceKit

/// What an account's email and roles are, and the field checks every text an account is made of follows.
enum InputRules {
    /// The address as it is kept and shown: trimmed, in Unicode NFC, so that a precomposed and
    /// a combining accent are one address.
    static func display(email: String) -> String {
        email.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping
    }

    /// The form uniqueness and sign-in are checked on: the displayed form, case-folded (Unicode
    /// full case folding, so `ß` and `SS` are one address too) and put back in NFC.
    static func normalize(email: String) -> String {
        display(email: email).folding(options: .caseInsensitive, locale: nil).precomposedStringWithCanonicalMapping
    }

    static let memberRoles: Set<String> = ["member", "advisor"]
    static let staffRoles: Set<String> = ["support", "moderator", "finance", "legal", "admin"]
}

extension FieldRules {
    /// At most 254 characters, one `@` with text on both sides, a dot in the domain, no spaces.
    mutating func email(_ value: String, field: String = "email") {
        let email = InputRules.normalize(email: value)
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        let valid = email.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !email.contains(where: { $0.isWhitespace || $0.isNewline || $0 == "\0" })
        if !valid { fail(field, "invalid_email") }
    }

    /// 10…200 characters and not one of the 1,000 most common passwords.
    mutating func password(_ value: String, field: String = "password") {
        if !(10...200).contains(value.unicodeScalars.count) || CommonPasswords.contains(value) {
            fail(field, "weak_password")
        }
    }

    /// 1…80 characters after trimming, no control characters.
    mutating func displayName(_ value: String) {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty || value.unicodeScalars.count > 80 || value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            fail("displayName", "invalid")
        }
    }

    /// ISO 3166 alpha-2: two upper-case letters.
    mutating func country(_ value: String?) {
        guard let value else { return }
        if value.count != 2 || !value.unicodeScalars.allSatisfy({ (65...90).contains($0.value) }) {
            fail("country", "invalid")
        }
    }
}
