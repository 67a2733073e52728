import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Consents, policy versions and the histories a person can read about themselves.
extension AccountsHandlers {
    // MARK: Consents

    func consents(_ request: Accounts.GetConsents.Request, caller: Caller) async throws -> Accounts.Consents {
        let id = try Self.subject(request.accountId, caller: caller)
        return try await database.withConnection { connection in
            guard try Self.exists(id, on: connection) else { throw AccountsErrors.notFound }
            return try ConsentRecords.current(accountId: id, on: connection)
        }
    }

    /// The most partner consents one request may change (there are far fewer partners).
    static let maxPartnerConsents = 100

    func setConsents(_ request: Accounts.SetConsents.Request, caller: Caller) async throws -> Accounts.Consents {
        let id = try Self.subject(request.accountId, caller: caller)
        var rules = FieldRules()
        let partners = (request.partners ?? [:]).keys.sorted()
        if partners.count > Self.maxPartnerConsents { rules.fail("partners", "too_many") }
        if request.source == .registration { rules.fail("source", "invalid") }
        try rules.check()
        var changes: [(consent: String, granted: Bool)] = []
        let fixed: [(String, Bool?)] = [
            ("performanceCookies", request.performanceCookies), ("functionalityCookies", request.functionalityCookies),
            ("marketingEmail", request.marketingEmail), ("marketingSms", request.marketingSms),
        ]
        for (consent, value) in fixed {
            if let value { changes.append((consent, value)) }
        }
        for (partner, value) in (request.partners ?? [:]).sorted(by: { $0.key < $1.key }) {
            changes.append(("partner:\(partner)", value))
        }
        let roles = caller.roles.map(\.rawValue).sorted()
        let requested = changes
        return try await database.transaction { connection in
            guard try Self.exists(id, on: connection) else { throw AccountsErrors.notFound }
            let registered = try ConsentRecords.registeredPartners(partners, on: connection)
            if partners.contains(where: { !registered.contains($0) }) {
                throw ServiceError(
                    .validationFailed, "consents may name registered partners only (GET /v1/partners lists them)",
                    fieldErrors: [FieldError(field: "partners", code: "unknown_partner")])
            }
            let version = try PolicyRecords.current(on: connection).version
            try ConsentRecords.record(
                requested, accountId: id, source: request.source, policyVersion: version, actorId: caller.accountId,
                actorRoles: roles, audit: audit, on: connection)
            // A partner consent withdrawn is its grant withdrawn: no token of it opens anything now.
            for (partner, granted) in request.partners ?? [:] where !granted {
                try Self.revokeGrants(of: id, partner: partner, on: connection)
            }
            return try ConsentRecords.current(accountId: id, on: connection)
        }
    }

    func consentHistory(_ request: PageRequest, caller: Caller) async throws -> Page<Accounts.ConsentChange> {
        let id = try Self.accountId(of: caller)
        let page = try PageCursor(request)
        return try await database.withConnection { connection in
            let rows = try connection.query(
                """
                SELECT id, consent, granted, source, policy_version, changed_at FROM consent_changes
                WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3
                """, id, page.before, page.limit + 1)
            return try page.page(rows, column: "id") { row in
                Accounts.ConsentChange(
                    consent: try row.decode("consent"), granted: try row.decode("granted"),
                    source: Accounts.ConsentSource(rawValue: try row.decode("source")) ?? .settings,
                    policyVersion: try row.decode("policy_version"), changedAt: try row.decode("changed_at"))
            }
        }
    }

    // MARK: Policy

    func currentPolicy() async throws -> Accounts.PolicyVersion {
        try await database.withConnection { try PolicyRecords.current(on: $0) }
    }

    func acceptPolicy(_ request: Accounts.AcceptPolicy.Request, caller: Caller) async throws -> Empty {
        let id = try Self.accountId(of: caller)
        let roles = caller.roles.map(\.rawValue).sorted()
        try await database.transaction { connection in
            guard try Self.exists(id, on: connection) else { throw AccountsErrors.notFound }
            guard try PolicyRecords.current(on: connection).version == request.version else {
                throw ServiceError(
                    .validationFailed, "only the current policy version can be accepted",
                    fieldErrors: [FieldError(field: "version", code: "policy_version_mismatch")])
            }
            try PolicyRecords.accept(version: request.version, accountId: id, on: connection)
            try audit.append(
                .init(actorId: id, actorRoles: roles, action: "policy.accept", subjectId: id, details: ["version": request.version]),
                on: connection)
        }
        return Empty()
    }

    func publishPolicy(_ request: Accounts.PolicyVersion, caller: Caller) async throws -> Accounts.PolicyVersion {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.legal) || caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        rules.text(request.version, field: "version", range: 1...40)
        try rules.check()
        let roles = caller.roles.map(\.rawValue).sorted()
        try await database.transaction { connection in
            do {
                try connection.execute(
                    "INSERT INTO policy_versions (version, effective_date) VALUES ($1, $2)", request.version,
                    request.effectiveDate)
            } catch let error as StoreError where error == .uniqueViolation {
                throw ServiceError(.conflict, "this policy version was published before")
            }
            try audit.append(
                .init(actorId: actor, actorRoles: roles, action: "policy.publish", subjectId: nil, details: ["version": request.version]),
                on: connection)
            try Outbox.append(Accounts.PolicyPublished(version: request.version, effectiveDate: request.effectiveDate), on: connection)
        }
        logger.info("privacy policy published", metadata: ["policy.version": "\(request.version)"])
        return try await currentPolicy()
    }

    // MARK: Histories

    func signIns(_ request: PageRequest, caller: Caller) async throws -> Page<Accounts.SignInRecord> {
        let id = try Self.accountId(of: caller)
        let page = try PageCursor(request)
        let records = self.records
        return try await database.withConnection { connection in
            let rows = try connection.query(
                """
                SELECT id, at, client_sealed, succeeded FROM sign_in_attempts
                WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3
                """, id, page.before, page.limit + 1)
            let open = try records.clientOpener(for: id, on: connection)
            return try page.page(rows, column: "id") { row in
                let client = try open(try row.decode("client_sealed", as: Data.self))
                return Accounts.SignInRecord(
                    at: try row.decode("at"), ipAddress: client.ipAddress, userAgent: client.userAgent,
                    succeeded: try row.decode("succeeded"))
            }
        }
    }

    func accessLog(_ request: PageRequest, caller: Caller) async throws -> Page<Accounts.AccessRecord> {
        let id = try Self.accountId(of: caller)
        let page = try PageCursor(request)
        return try await database.withConnection { connection in
            let rows = try connection.query(
                """
                SELECT l.seq AS id, l.at, l.actor_id, array_to_json(l.actor_roles)::text AS roles, l.action, l.details->>'reason' AS reason,
                    l.details->>'partner' AS partner, r.reads, r.last_at
                FROM audit_log l
                LEFT JOIN partner_reads r ON l.action LIKE 'partner-access.%' AND r.account_id = l.subject_id
                    AND r.partner_id = l.details->>'partner' AND r.hour = date_trunc('hour', l.at)
                WHERE l.subject_id = $1 AND (l.action LIKE 'staff.%' OR l.action LIKE 'partner-access.%') AND l.seq < $2
                ORDER BY l.seq DESC LIMIT $3
                """, id, page.before, page.limit + 1)
            return try page.page(rows, column: "id") { row in
                Accounts.AccessRecord(
                    at: try row.decode("at"), staffId: try row.decode("actor_id"),
                    staffRoles: try JSONDecoder().decode([String].self, from: Data(try row.decode("roles", as: String.self).utf8)),
                    action: try row.decode("action"), reason: try row.decode("reason"), partnerId: try row.decode("partner"),
                    reads: try row.decode("reads"), lastAt: try row.decode("last_at"))
            }
        }
    }

    // MARK: Helpers

    /// Whose data a call is about: the caller's own, or (for the platform only) the account named.
    static func subject(_ requested: UUID?, caller: Caller) throws -> UUID {
        if let requested, requested != caller.accountId {
            guard caller.has(.system) else { throw AccountsErrors.notFound }
            return requested
        }
        return try accountId(of: caller)
    }

    static func exists(_ id: UUID, on connection: Connection) throws -> Bool {
        try connection.queryOne("SELECT 1 FROM accounts WHERE id = $1 AND erased_at IS NULL", id) != nil
    }
}
