import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Credentials: an advisor submits licenses and certifications; they show on the profile only
/// once verified. Each submission is announced (`directory.credential-submitted.v1`), the
/// integration service sends it to the verification provider, and the provider's result is
/// recorded; support staff may decide a pending one first (an override), and accounts records each
/// staff decision in the advisor's access log.
extension DirectoryHandlers {
    static let credentialKinds: Set<String> = ["license", "certification"]
    static let maxCredentials = 20

    static let credentialColumns =
        "id, advisor_id, kind, issuer, number, to_char(expires_on, 'YYYY-MM-DD') AS expires_on, status, submitted_at, decided_at"

    static func credential(_ row: Row) throws -> Directory.Credential {
        Directory.Credential(
            id: try row.decode("id"), advisorId: try row.decode("advisor_id"), kind: try row.decode("kind"),
            issuer: try row.decode("issuer"), number: try row.decode("number"), expiresOn: try row.decode("expires_on"),
            status: try row.decode("status"), submittedAt: try row.decode("submitted_at"), decidedAt: try row.decode("decided_at"))
    }

    func submitCredential(_ request: Directory.SubmitCredential.Request, caller: Caller) async throws -> Directory.Credential {
        let id = try Self.advisorId(of: caller)
        var rules = FieldRules()
        if !Self.credentialKinds.contains(request.kind) { rules.fail("kind", "invalid") }
        rules.text(request.issuer, field: "issuer", range: 1...200)
        rules.text(request.number, field: "number", range: 1...100)
        for (field, value) in [("issuer", request.issuer), ("number", request.number)]
        where value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            rules.fail(field, "invalid")
        }
        if let expiry = Self.day(request.expiresOn) {
            if expiry < Date() { rules.fail("expiresOn", "expired") }
        } else {
            rules.fail("expiresOn", "invalid")
        }
        try rules.check()
        try await ensureProfile(id, caller: caller)
        return try await database.transaction { connection in
            // Counted under the profile's row lock, so two submissions cannot both pass the limit.
            _ = try connection.queryOne("SELECT 1 FROM advisors WHERE account_id = $1 FOR UPDATE", id)
            let count = try connection.queryOne("SELECT count(*) AS n FROM credentials WHERE advisor_id = $1", id)?
                .decode("n", as: Int.self) ?? 0
            guard count < Self.maxCredentials else {
                throw ServiceError(
                    .validationFailed, "at most \(Self.maxCredentials) credentials; remove one first",
                    fieldErrors: [FieldError(field: "credentials", code: "too_many")])
            }
            guard
                let row = try connection.queryOne(
                    """
                    INSERT INTO credentials (id, advisor_id, kind, issuer, number, expires_on) VALUES ($1, $2, $3, $4, $5, $6::date)
                    RETURNING \(Self.credentialColumns)
                    """, UUID(), id, request.kind, request.issuer.trimmingCharacters(in: .whitespacesAndNewlines),
                    request.number.trimmingCharacters(in: .whitespacesAndNewlines), request.expiresOn)
            else { throw ServiceError(.internalError, "the credential was not stored") }
            let credential = try Self.credential(row)
            try Outbox.append(Directory.CredentialSubmitted(credentialId: credential.id, advisorId: id, at: Date()), on: connection)
            return credential
        }
    }

    /// What the verification provider is sent (the platform only).
    func credentialForVerification(_ request: Directory.CredentialForVerification.Request, caller: Caller) async throws -> Directory.Credential {
        guard caller.has(.system) else { throw ServiceError(.forbidden, "credentials go to the verifier from the platform alone") }
        let row = try await database.withConnection { connection in
            try connection.queryOne("SELECT \(Self.credentialColumns) FROM credentials WHERE id = $1", request.credentialId)
        }
        guard let row else { throw ServiceError(.notFound, "there is no credential with this id") }
        return try Self.credential(row)
    }

    /// The verification provider's result (the platform only), for a credential still pending.
    func recordVerification(_ request: Directory.RecordVerification.Request, caller: Caller) async throws -> Directory.Credential {
        guard caller.has(.system) else { throw ServiceError(.forbidden, "verification results come from the platform alone") }
        let decided = try await database.withConnection { connection -> Directory.Credential in
            guard
                let row = try connection.queryOne(
                    """
                    UPDATE credentials SET status = $2, decided_at = now() WHERE id = $1 AND status = 'pending'
                    RETURNING \(Self.credentialColumns)
                    """, request.credentialId, request.verified ? "verified" : "rejected")
            else {
                let exists = try connection.queryOne("SELECT 1 FROM credentials WHERE id = $1", request.credentialId) != nil
                throw exists
                    ? ServiceError(.conflict, "this credential has been decided already")
                    : ServiceError(.notFound, "there is no credential with this id")
            }
            return try Self.credential(row)
        }
        logger.info(
            "credential verified by the provider",
            metadata: ["credential.id": "\(request.credentialId)", "credential.status": "\(decided.status)"])
        return decided
    }

    func myCredentials(caller: Caller) async throws -> [Directory.Credential] {
        let id = try Self.advisorId(of: caller)
        return try await database.withConnection { connection in
            try connection.query(
                "SELECT \(Self.credentialColumns) FROM credentials WHERE advisor_id = $1 ORDER BY seq DESC", id
            ).map(Self.credential)
        }
    }

    func removeCredential(_ request: Directory.RemoveCredential.Request, caller: Caller) async throws -> Empty {
        let id = try Self.advisorId(of: caller)
        _ = try await database.withConnection { connection in
            try connection.execute("DELETE FROM credentials WHERE id = $1 AND advisor_id = $2", request.credentialId, id)
        }
        return Empty()
    }

    /// Support staff and admins, who decide credentials.
    static func requireCredentialStaff(_ caller: Caller) throws {
        guard caller.accountId != nil else { throw unauthenticated }
        guard caller.has(.support) || caller.has(.admin) else {
            throw ServiceError(.forbidden, "only support staff decide credentials")
        }
    }

    func pendingCredentials(_ page: PageRequest, caller: Caller) async throws -> Page<Directory.Credential> {
        try Self.requireCredentialStaff(caller)
        let cursor = try PageCursor(page)
        return try await database.withConnection { connection in
            let rows = try connection.query(
                "SELECT \(Self.credentialColumns), seq FROM credentials WHERE status = 'pending' AND seq > $1 ORDER BY seq LIMIT $2",
                cursor.after, cursor.limit + 1)
            return try cursor.page(rows, Self.credential)
        }
    }

    /// Recorded in accounts' audit log first: a decision nobody could see in the advisor's access
    /// log is never made (one recorded for a decision that then loses a race over-reports, harmlessly).
    func decideCredential(_ request: Directory.DecideCredential.Request, caller: Caller) async throws -> Directory.Credential {
        try Self.requireCredentialStaff(caller)
        var rules = FieldRules()
        rules.reason(request.reason)
        try rules.check()
        let found = try await database.withConnection { connection in
            try connection.queryOne("SELECT advisor_id, status FROM credentials WHERE id = $1", request.credentialId)
        }
        guard let found else { throw ServiceError(.notFound, "there is no credential with this id") }
        guard try found.decode("status", as: String.self) == "pending" else {
            throw ServiceError(.conflict, "this credential has been decided already")
        }
        let advisorId = try found.decode("advisor_id", as: UUID.self)
        let action = request.verified ? "staff.credential-verified" : "staff.credential-rejected"
        _ = try await bus.call(
            Accounts.RecordStaffAccess.self, .init(subjectId: advisorId, action: action, reason: request.reason), as: caller)
        let decided = try await database.transaction { connection -> Directory.Credential in
            guard
                let row = try connection.queryOne(
                    """
                    UPDATE credentials SET status = $2, decided_at = now() WHERE id = $1 AND status = 'pending'
                    RETURNING \(Self.credentialColumns)
                    """, request.credentialId, request.verified ? "verified" : "rejected")
            else { throw ServiceError(.conflict, "this credential has been decided already") }
            return try Self.credential(row)
        }
        logger.info(
            "credential decided", metadata: ["credential.id": "\(request.credentialId)", "credential.status": "\(decided.status)"])
        return decided
    }

    /// A `YYYY-MM-DD` day (the end of it, UTC), or nil.
    static func day(_ text: String) -> Date? {
        guard text.utf8.count == 10, let date = RFC3339.date(from: text + "T23:59:59Z") else { return nil }
        return date
    }
}
