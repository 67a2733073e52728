import Foundation
import Logging
import Models
import ServiceKit
import PlatformSecurity
import Store

/// What staff do: admins create staff accounts; support, legal and admin read a person's account,
/// and every such read is audited and shown to that person.
extension AccountsHandlers {
    func createStaff(_ request: Accounts.CreateStaff.Request, caller: Caller, deadline: Date) async throws
        -> Accounts.Account
    {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        rules.email(request.email)
        rules.password(request.password)
        rules.displayName(request.displayName)
        if request.roles.isEmpty || !Set(request.roles).isSubset(of: InputRules.staffRoles) {
            rules.fail("roles", "invalid")
        }
        try rules.check()
        let account = try await create(
            email: request.email, password: request.password, displayName: request.displayName,
            roles: Array(Set(request.roles)).sorted(), actorId: actor, actorRoles: caller.roles.map(\.rawValue).sorted(),
            action: "staff.create-account", deadline: deadline)
        logger.info("staff account created", metadata: ["account.id": "\(account.id)", "actor.id": "\(actor)"])
        return account
    }

    /// Creates an account with `roles` (no policy acceptance: staff accept it at first sign-in).
    func create(
        email: String, password: String, displayName: String, roles: [String], actorId: UUID?, actorRoles: [String],
        action: String, deadline: Date? = nil
    ) async throws -> Accounts.Account {
        let hash = try await hashPassword(password, deadline: deadline)
        let id = UUID()
        let records = self.records
        return try await database.transaction { connection in
            try records.insert(
                id: id, email: email, passwordHash: hash, displayName: displayName, roles: roles, country: nil, source: nil,
                on: connection)
            try audit.append(
                .init(actorId: actorId, actorRoles: actorRoles, action: action, subjectId: id, details: ["roles": roles.joined(separator: ",")]),
                on: connection)
            guard let loaded = try records.load(id, on: connection) else { throw AccountsErrors.notFound }
            return loaded.account
        }
    }

    func staffViewAccount(_ request: Accounts.StaffViewAccount.Request, caller: Caller) async throws -> Accounts.Account {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.support) || caller.has(.legal) || caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        rules.reason(request.reason)
        try rules.check()
        let records = self.records
        let roles = caller.roles.map(\.rawValue).sorted()
        let account = try await database.transaction { connection in
            guard let found = try records.load(request.accountId, on: connection) else { throw AccountsErrors.notFound }
            try audit.append(
                .init(
                    actorId: actor, actorRoles: roles, action: "staff.view-account", subjectId: request.accountId,
                    details: ["reason": request.reason]), on: connection)
            return found.account
        }
        logger.info("staff viewed an account", metadata: ["account.id": "\(request.accountId)", "actor.id": "\(actor)"])
        return account
    }

    /// Takes staff roles away, disables the account or ends its sessions. Nobody offboards
    /// themselves, and no change may leave the platform without an enabled admin.
    func staffOffboard(_ request: Accounts.StaffOffboard.Request, caller: Caller) async throws -> Accounts.StaffOffboard.Response {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        rules.reason(request.reason)
        if !Set(request.removeRoles).isSubset(of: InputRules.staffRoles) { rules.fail("removeRoles", "invalid") }
        if request.removeRoles.isEmpty && !request.disable && !request.endSessions { rules.fail("removeRoles", "nothing_to_do") }
        if request.accountId == actor { rules.fail("accountId", "yourself") }
        try rules.check()
        let actorRoles = caller.roles.map(\.rawValue).sorted()
        let response = try await database.transaction { connection -> Accounts.StaffOffboard.Response in
            // Serializes offboardings, so two admins cannot each remove the other as the last one.
            try connection.execute("SELECT pg_advisory_xact_lock(hashtext('accounts.staff-offboard'))")
            // The caller's roles came with its session and may be seconds old: under the lock, the
            // actor must still be an enabled admin.
            guard try Self.isEnabledAdmin(actor, on: connection) else { throw AccountsErrors.forbidden }
            guard
                let row = try connection.queryOne(
                    "SELECT roles FROM accounts WHERE id = $1 AND erased_at IS NULL FOR UPDATE",
                    request.accountId)
            else { throw AccountsErrors.notFound }
            let current = try row.decode("roles", as: [String].self)
            let removed = current.filter(request.removeRoles.contains)
            let remaining = current.filter { !request.removeRoles.contains($0) }
            if current.contains("admin") && (removed.contains("admin") || request.disable) {
                try Self.requireAnotherAdmin(besides: request.accountId, on: connection)
            }
            // An account keeps at least its member role once its staff roles are gone.
            let roles = remaining.isEmpty ? ["member"] : remaining
            let disabled = try connection.queryOne(
                """
                UPDATE accounts SET roles = $2::text[],
                    disabled_at = CASE WHEN $3 THEN coalesce(disabled_at, now()) ELSE disabled_at END
                WHERE id = $1 RETURNING disabled_at IS NOT NULL AS disabled
                """, request.accountId, roles, request.disable)?.decode("disabled", as: Bool.self) ?? false
            var ended = 0
            if request.disable || request.endSessions || !removed.isEmpty {
                // Sessions carry the roles they were opened with; removing a role ends them too.
                ended = try connection.execute(
                    "UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL", request.accountId)
            }
            // A disabled account's partners lose their access with it.
            if request.disable { try Self.revokeGrants(of: request.accountId, partner: nil, on: connection) }
            try audit.append(
                .init(
                    actorId: actor, actorRoles: actorRoles, action: "staff.offboard", subjectId: request.accountId,
                    details: [
                        "reason": request.reason, "removedRoles": removed.joined(separator: ","),
                        "disabled": String(request.disable), "sessionsEnded": String(ended),
                    ]), on: connection)
            return .init(accountId: request.accountId, roles: roles, disabled: disabled, sessionsEnded: ended)
        }
        logger.info("staff offboarded an account", metadata: ["account.id": "\(request.accountId)", "actor.id": "\(actor)"])
        return response
    }

    /// Whether `id` is a live, enabled account with the admin role, as the database says now.
    static func isEnabledAdmin(_ id: UUID, on connection: Connection) throws -> Bool {
        try connection.queryOne(
            "SELECT 1 FROM accounts WHERE id = $1 AND 'admin' = ANY (roles) AND erased_at IS NULL AND disabled_at IS NULL", id) != nil
    }

    /// Throws `last_admin` unless an enabled admin other than `id` remains. Takes the offboarding
    /// lock, so changes that each leave another admin cannot together leave none.
    static func requireAnotherAdmin(besides id: UUID, on connection: Connection) throws {
        try connection.execute("SELECT pg_advisory_xact_lock(hashtext('accounts.staff-offboard'))")
        let others = try connection.queryOne(
            """
            SELECT count(*) AS n FROM accounts
            WHERE 'admin' = ANY (roles) AND erased_at IS NULL AND disabled_at IS NULL AND id <> $1
            """, id)?.decode("n", as: Int.self) ?? 0
        if others == 0 { throw ServiceError(.lastAdmin, "the platform needs at least one enabled admin") }
    }
}

// MARK: Names and addresses other services use

extension AccountsHandlers {
    /// The display names of live members and advisors, for the platform's own services (the
    /// directory shows them on profiles and reviews); never a staff account's, never anyone's email.
    func publicNames(_ request: Accounts.PublicNames.Request, caller: Caller) async throws -> Accounts.PublicNames.Response {
        let accounts = try await liveAccounts(request.accountIds, limit: Accounts.PublicNames.maxAccounts, caller: caller)
        return Accounts.PublicNames.Response(
            names: accounts.filter { $0.roles.contains(where: InputRules.memberRoles.contains) }.map {
                Accounts.PublicNames.PublicName(accountId: $0.id, displayName: $0.displayName)
            })
    }

    /// Where to reach people, for the notifications service when it sends, with their marketing
    /// consents as they stand at that moment and an address they changed from lately.
    func contacts(_ request: Accounts.Contacts.Request, caller: Caller) async throws -> Accounts.Contacts.Response {
        try checkPlatformCall(request.accountIds, limit: Accounts.Contacts.maxAccounts, caller: caller)
        let records = self.records
        return try await database.withConnection { connection in
            var granted: [UUID: [String]] = [:]
            for row in try connection.query(
                "SELECT account_id, consent FROM consents WHERE account_id = ANY($1::uuid[]) AND granted AND consent = ANY($2::text[])",
                request.accountIds, Accounts.MarketingAudience.consents)
            {
                granted[try row.decode("account_id"), default: []].append(try row.decode("consent"))
            }
            let contacts = try Set(request.accountIds).sorted { $0.uuidString < $1.uuidString }.compactMap { id in
                try records.personal(id, on: connection).map { personal in
                    Accounts.Contacts.Contact(
                        accountId: id, email: personal.email, displayName: personal.displayName,
                        marketingConsents: (granted[id] ?? []).sorted(),
                        previousEmail: personal.previousEmailUntil.map { $0 > Date() } == true ? personal.previousEmail : nil,
                        phone: try records.textablePhone(id, on: connection))
                }
            }
            return Accounts.Contacts.Response(contacts: contacts)
        }
    }

    /// The live accounts that said yes to a kind of marketing (or every live account, for what
    /// everyone must be told), a page at a time in id order.
    func marketingAudience(_ request: Accounts.MarketingAudience.Request, caller: Caller) async throws
        -> Accounts.MarketingAudience.Response
    {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        let everyone = request.consent == Accounts.MarketingAudience.everyone
        if !everyone, !Accounts.MarketingAudience.consents.contains(request.consent) { rules.fail("consent", "invalid") }
        if !(1...Accounts.MarketingAudience.maxLimit).contains(request.limit) { rules.fail("limit", "invalid") }
        try rules.check()
        let after = request.after ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        return try await database.withConnection { connection in
            let rows = everyone
                ? try connection.query(
                    """
                    SELECT id AS account_id FROM accounts WHERE id > $1 AND erased_at IS NULL AND disabled_at IS NULL ORDER BY id LIMIT $2
                    """, after, request.limit)
                : try connection.query(
                    """
                    SELECT c.account_id FROM consents c JOIN accounts a ON a.id = c.account_id
                    WHERE c.consent = $1 AND c.granted AND c.account_id > $2 AND a.erased_at IS NULL AND a.disabled_at IS NULL
                    ORDER BY c.account_id LIMIT $3
                    """, request.consent, after, request.limit)
            return .init(accountIds: try rows.map { try $0.decode("account_id", as: UUID.self) })
        }
    }

    /// A call about many people, allowed to the platform only: 403 for anyone else, 422 past `limit`.
    private func checkPlatformCall(_ ids: [UUID], limit: Int, caller: Caller) throws {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        guard ids.count <= limit else {
            throw ServiceError(
                .validationFailed, "at most \(limit) accounts a call", fieldErrors: [FieldError(field: "accountIds", code: "too_many")])
        }
    }

    /// The accounts of `ids` that exist and are not erased, for system callers only; 422 past `limit`.
    private func liveAccounts(_ ids: [UUID], limit: Int, caller: Caller) async throws -> [Accounts.Account] {
        try checkPlatformCall(ids, limit: limit, caller: caller)
        let records = self.records
        return try await database.withConnection { connection in
            try Set(ids).sorted { $0.uuidString < $1.uuidString }.compactMap { try records.load($0, on: connection)?.account }
        }
    }
}

// MARK: Staff actions in other services

extension AccountsHandlers {
    /// Records, in the audit log and so in the person's access log, a staff member's action on the
    /// person's data in another service; the caller is the staff member, forwarded by that service.
    func recordStaffAccess(_ request: Accounts.RecordStaffAccess.Request, caller: Caller) async throws -> Empty {
        let actor = try Self.accountId(of: caller)
        guard let allowed = Accounts.RecordStaffAccess.actions[request.action] else {
            throw ServiceError(
                .validationFailed, "not an action other services record", fieldErrors: [FieldError(field: "action", code: "invalid")])
        }
        guard allowed.contains(where: caller.has) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        rules.reason(request.reason)
        try rules.check()
        let roles = caller.roles.map(\.rawValue).sorted()
        try await database.transaction { connection in
            guard try Self.exists(request.subjectId, on: connection) else { throw AccountsErrors.notFound }
            try audit.append(
                .init(
                    actorId: actor, actorRoles: roles, action: request.action, subjectId: request.subjectId,
                    details: ["reason": request.reason]), on: connection)
        }
        logger.info("staff access recorded", metadata: ["account.id": "\(request.subjectId)", "actor.id": "\(actor)"])
        return Empty()
    }
}
