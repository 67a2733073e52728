import Foundation
import Models
import ServiceKit

/// What an advisor's profile may hold.
enum ProfileRules {
    static let headline = 1...120
    static let bio = 0...4000
    static let categories = 0...5
    static let languages = 0...10
    static let yearsExperience = 0...80
    static let photoURL = 0...500

    /// An ISO 639 language code: two or three lower-case letters.
    static func isLanguageCode(_ value: String) -> Bool {
        (2...3).contains(value.utf8.count) && value.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
    }

    /// Checks a change to a profile: one 422 naming every field that fails.
    static func check(_ change: Directory.UpdateProfile.Request, settings: DirectorySettings) throws {
        var rules = FieldRules()
        rules.text(change.headline, field: "headline", range: headline)
        if let text = change.headline, text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            rules.fail("headline", "invalid")
        }
        rules.text(change.bio, field: "bio", range: bio)
        if let list = change.categories, !categories.contains(list.count) || Set(list).count != list.count {
            rules.fail("categories", "invalid")
        }
        rules.number(change.pricePerMinuteCents, field: "pricePerMinuteCents", range: settings.priceRange)
        if let list = change.languages,
            !languages.contains(list.count) || Set(list).count != list.count || !list.allSatisfy(isLanguageCode)
        {
            rules.fail("languages", "invalid")
        }
        rules.number(change.yearsExperience, field: "yearsExperience", range: yearsExperience)
        if let url = change.photoUrl, !url.isEmpty, !isAllowedPhoto(url, hosts: settings.photoHosts) {
            rules.fail("photoUrl", "invalid")
        }
        try rules.check()
    }

    /// An https URL on one of the allowed hosts, no credentials, no port, at most 500 characters.
    static func isAllowedPhoto(_ value: String, hosts: Set<String>) -> Bool {
        guard photoURL.contains(value.unicodeScalars.count), !value.contains("\0"),
            let components = URLComponents(string: value), components.scheme == "https",
            let host = components.host?.lowercased(), hosts.contains(host),
            components.user == nil, components.password == nil, components.port == nil
        else { return false }
        return true
    }
}
