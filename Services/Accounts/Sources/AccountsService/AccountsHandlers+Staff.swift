import Foundation
import Logging
import Models
import Security
import Store

/// What staff do: admins create staff accounts; support, legal and admin read a person's account,
/// and every such read is audited and shown to that person.
extension AccountsHandlers {
    func createStaff(_ request: Accounts.CreateStaff.Request, caller: Caller, deadline: Date) async throws
        -> Accounts.Account
    {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = InputRules()
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
            try AuditLog.append(
                .init(actorId: actorId, actorRoles: actorRoles, action: action, subjectId: id, details: ["roles": roles.joined(separator: ",")]),
                on: connection)
            guard let loaded = try records.load(id, on: connection) else { throw AccountsErrors.notFound }
            return loaded.account
        }
    }

    func staffViewAccount(_ request: Accounts.StaffViewAccount.Request, caller: Caller) async throws -> Accounts.Account {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.support) || caller.has(.legal) || caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = InputRules()
        rules.text(request.reason, field: "reason", range: 1...500)
        if request.reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { rules.fail("reason", "required") }
        try rules.check()
        let records = self.records
        let roles = caller.roles.map(\.rawValue).sorted()
        let account = try await database.transaction { connection in
            guard let found = try records.load(request.accountId, on: connection) else { throw AccountsErrors.notFound }
            try AuditLog.append(
                .init(
                    actorId: actor, actorRoles: roles, action: "staff.view-account", subjectId: request.accountId,
                    details: ["reason": request.reason]), on: connection)
            return found.account
        }
        logger.info("staff viewed an account", metadata: ["account.id": "\(request.accountId)", "actor.id": "\(actor)"])
        return account
    }
}
