import Foundation
import Models
import Store

/// Current consents and every change to them.
enum ConsentRecords {
    static let fixed = ["performanceCookies", "functionalityCookies", "marketingEmail", "marketingSms"]

    /// Records the consents that differ from their current value: each change in the history,
    /// and the request's changes together in one audit entry.
    static func record(
        _ changes: [(consent: String, granted: Bool)], accountId: UUID, source: Accounts.ConsentSource,
        policyVersion: String, actorId: UUID? = nil, actorRoles: [String], audit: AuditLog, on connection: Connection
    ) throws {
        var recorded: [String] = []
        for change in changes {
            let current = try connection.queryOne(
                "SELECT granted FROM consents WHERE account_id = $1 AND consent = $2", accountId, change.consent)
            let was = try current?.decode("granted", as: Bool.self) ?? false
            if current != nil && was == change.granted { continue }
            if current == nil && !change.granted && source != .registration { continue }
            try connection.execute(
                """
                INSERT INTO consents (account_id, consent, granted) VALUES ($1, $2, $3)
                ON CONFLICT (account_id, consent) DO UPDATE SET granted = EXCLUDED.granted
                """, accountId, change.consent, change.granted)
            try connection.execute(
                """
                INSERT INTO consent_changes (account_id, consent, granted, source, policy_version)
                VALUES ($1, $2, $3, $4, $5)
                """, accountId, change.consent, change.granted, source.rawValue, policyVersion)
            recorded.append("\(change.consent)=\(change.granted)")
        }
        guard !recorded.isEmpty else { return }
        try audit.append(
            .init(
                actorId: actorId ?? accountId, actorRoles: actorRoles, action: "consent.change", subjectId: accountId,
                details: ["changes": recorded.joined(separator: ","), "source": source.rawValue]),
            on: connection)
    }

    /// The registered partners among `ids`.
    static func registeredPartners(_ ids: [String], on connection: Connection) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let placeholders = (1...ids.count).map { "$\($0)" }.joined(separator: ", ")
        return Set(
            try connection.query("SELECT id FROM partners WHERE id IN (\(placeholders))", parameters: ids)
                .map { try $0.decode("id", as: String.self) })
    }

    static func current(accountId: UUID, on connection: Connection) throws -> Accounts.Consents {
        var values: [String: Bool] = [:]
        for row in try connection.query("SELECT consent, granted FROM consents WHERE account_id = $1", accountId) {
            values[try row.decode("consent")] = try row.decode("granted", as: Bool.self)
        }
        var partners: [String: Bool] = [:]
        for (key, value) in values where key.hasPrefix("partner:") {
            partners[String(key.dropFirst("partner:".count))] = value
        }
        let last = try connection.queryOne(
            "SELECT policy_version FROM consent_changes WHERE account_id = $1 ORDER BY id DESC LIMIT 1", accountId)
        let version = try last?.decode("policy_version", as: String.self) ?? PolicyRecords.current(on: connection).version
        return Accounts.Consents(
            performanceCookies: values["performanceCookies"] ?? false,
            functionalityCookies: values["functionalityCookies"] ?? false,
            marketingEmail: values["marketingEmail"] ?? false, marketingSms: values["marketingSms"] ?? false,
            partners: partners, policyVersion: version)
    }
}
