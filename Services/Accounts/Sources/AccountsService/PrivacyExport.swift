import Foundation
import Models
import ServiceKit
import Store

/// The accounts section of a person's export, and the erase hook the platform may call.
enum PrivacyExport {
    static func hooks(records: AccountRecords) -> PrivacyHooks {
        PrivacyHooks(
            export: { request, connection in try export(request, records: records, on: connection) },
            erase: { accountId, connection in try AccountsHandlers.scrub(accountId, on: connection) })
    }

    /// The account, consents and their history, sign-ins, sessions (never token hashes), policy
    /// acceptances and staff accesses; an empty object once the person is erased. The export itself
    /// is audited: as the person's own, or as a legal export by whoever made it, with the reason,
    /// which the person then reads in their access log.
    static func export(_ request: ExportRequest, records: AccountRecords, on connection: Connection) throws -> JSONValue {
        let accountId = request.accountId
        if request.isLegal, try connection.queryOne("SELECT 1 FROM accounts WHERE id = $1", accountId) == nil {
            throw AccountsErrors.notFound
        }
        // The audit append comes first: its table lock is taken before the transaction's snapshot,
        // so concurrent exports queue on it instead of failing.
        try records.audit.append(
            !request.isLegal
                ? .init(actorId: accountId, actorRoles: [], action: "privacy.export", subjectId: accountId)
                : .init(
                    actorId: request.requester.accountId, actorRoles: request.requester.roles.map(\.rawValue).sorted(),
                    action: "staff.legal-export", subjectId: accountId, details: ["reason": request.reason ?? ""]),
            on: connection)
        guard let found = try records.load(accountId, on: connection) else { return .object([:]) }
        let consents = try ConsentRecords.current(accountId: accountId, on: connection)
        let changes = try connection.query(
            "SELECT consent, granted, source, policy_version, changed_at FROM consent_changes WHERE account_id = $1 ORDER BY id DESC",
            accountId
        ).map { row in
            Accounts.ConsentChange(
                consent: try row.decode("consent"), granted: try row.decode("granted"),
                source: Accounts.ConsentSource(rawValue: try row.decode("source")) ?? .settings,
                policyVersion: try row.decode("policy_version"), changedAt: try row.decode("changed_at"))
        }
        let open = try records.clientOpener(for: accountId, on: connection)
        let signIns = try connection.query(
            "SELECT at, client_sealed, succeeded FROM sign_in_attempts WHERE account_id = $1 ORDER BY id DESC", accountId
        ).map { row in
            let client = try open(try row.decode("client_sealed", as: Data.self))
            return Accounts.SignInRecord(
                at: try row.decode("at"), ipAddress: client.ipAddress, userAgent: client.userAgent,
                succeeded: try row.decode("succeeded"))
        }
        let sessions = try connection.query(
            "SELECT created_at, expires_at, revoked_at, client_sealed FROM sessions WHERE account_id = $1 ORDER BY created_at DESC",
            accountId
        ).map { row in
            let client = try open(try row.decode("client_sealed", as: Data.self))
            return SessionRecord(
                createdAt: try row.decode("created_at"), expiresAt: try row.decode("expires_at"),
                revokedAt: try row.decode("revoked_at"), ipAddress: client.ipAddress, userAgent: client.userAgent)
        }
        let acceptances = try connection.query(
            "SELECT version, accepted_at FROM policy_acceptances WHERE account_id = $1 ORDER BY id DESC", accountId
        ).map { row in AcceptanceRecord(version: try row.decode("version"), acceptedAt: try row.decode("accepted_at")) }
        let accesses = try connection.query(
            """
            SELECT at, actor_id, array_to_json(actor_roles)::text AS roles, action, details->>'reason' AS reason
            FROM audit_log WHERE subject_id = $1 AND action LIKE 'staff.%' ORDER BY seq DESC
            """, accountId
        ).map { row in
            Accounts.AccessRecord(
                at: try row.decode("at"), staffId: try row.decode("actor_id"),
                staffRoles: try JSONDecoder().decode([String].self, from: Data(try row.decode("roles", as: String.self).utf8)),
                action: try row.decode("action"), reason: try row.decode("reason"))
        }
        // Who received the person's data (GDPR Art. 15(1)(c)): the partners they granted access, and each read.
        let grants = try connection.query(
            """
            SELECT partner_id, scopes, created_at, revoked_at FROM oauth_grants WHERE account_id = $1 ORDER BY created_at DESC
            """, accountId
        ).map { row in
            GrantRecord(
                partnerId: try row.decode("partner_id"), scopes: try row.decode("scopes"), grantedAt: try row.decode("created_at"),
                revokedAt: try row.decode("revoked_at"))
        }
        let partnerReads = try connection.query(
            """
            SELECT partner_id, hour, reads, last_at FROM partner_reads WHERE account_id = $1 ORDER BY hour DESC, partner_id
            """, accountId
        ).map { row in
            PartnerAccessRecord(
                hour: try row.decode("hour"), partnerId: try row.decode("partner_id"), reads: try row.decode("reads"),
                lastAt: try row.decode("last_at"))
        }
        // What sign-in providers told about the person (the policy: data received from a third-party platform).
        let social = try AccountsHandlers.socialIdentities(of: accountId, records: records, on: connection).map {
            SocialIdentityRecord(provider: $0.provider, linkedAt: $0.linkedAt, lastUsedAt: $0.lastUsedAt, received: $0.details)
        }
        let section = Section(
            account: found.account, consents: consents, consentHistory: changes, signIns: signIns, sessions: sessions,
            policyAcceptances: acceptances, staffAccesses: accesses, partnerGrants: grants, partnerAccesses: partnerReads,
            socialIdentities: social)
        return try JSONValue(encoding: section)
    }

    struct Section: Encodable {
        var account: Accounts.Account
        var consents: Accounts.Consents
        var consentHistory: [Accounts.ConsentChange]
        var signIns: [Accounts.SignInRecord]
        var sessions: [SessionRecord]
        var policyAcceptances: [AcceptanceRecord]
        var staffAccesses: [Accounts.AccessRecord]
        var partnerGrants: [GrantRecord]
        var partnerAccesses: [PartnerAccessRecord]
        var socialIdentities: [SocialIdentityRecord]
    }

    struct SocialIdentityRecord: Encodable {
        var provider: String
        var linkedAt: Date
        var lastUsedAt: Date?
        /// As the provider's ID token said it, the last time it was used.
        var received: AccountsHandlers.LinkDetails
    }

    struct GrantRecord: Encodable {
        var partnerId: String
        var scopes: [String]
        var grantedAt: Date
        var revokedAt: Date?
    }

    /// A partner's reads of the person's data in one clock hour.
    struct PartnerAccessRecord: Encodable {
        var hour: Date
        var partnerId: String
        var reads: Int
        var lastAt: Date
    }

    struct SessionRecord: Encodable {
        var createdAt: Date
        var expiresAt: Date
        var revokedAt: Date?
        var ipAddress: String
        var userAgent: String
    }

    struct AcceptanceRecord: Encodable {
        var version: String
        var acceptedAt: Date
    }
}
