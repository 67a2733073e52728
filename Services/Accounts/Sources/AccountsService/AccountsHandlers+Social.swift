import Bus
import Foundation
import Models
import PlatformSecurity
import ServiceKit
import Store

/// Social sign-in: what a provider vouched for (verified by the integration service) may open a
/// session for the account it is linked to; be linked to the account with its verified email,
/// only once the person gives that account's password; or register an account with that email,
/// linked at once. What the provider told is kept with the link, sealed, and in the export.
extension AccountsHandlers {
    /// The identity a ticket holds, sealed under the service's key while it waits.
    private struct Pending: Codable {
        var identity: Identity.Verified
        var kind: String
    }

    /// The details kept with a link, sealed under the account's key: what the provider told.
    struct LinkDetails: Codable {
        var issuer: String
        var subject: String
        var providerName: String
        var email: String?
        var emailVerified: Bool
        var name: String?
    }

    /// The blind index of a person at a provider.
    private func subjectIndex(_ identity: Identity.Verified) -> Data {
        HMAC.sha256(
            key: HMAC.sha256(key: settings.emailIndexKey, message: Data("social-subject".utf8)),
            message: Data("\(identity.issuer)\n\(identity.subject)".utf8))
    }

    func socialSignIn(_ request: Accounts.SocialSignIn.Request, deadline: Date) async throws -> Accounts.SocialOutcome {
        guard let bus else { throw ServiceError(.unavailable, "social sign-in is not served here") }
        let identity = try await bus.call(
            Identity.Complete.self, .init(provider: request.provider, state: request.state, code: request.code), as: .system)
        let index = subjectIndex(identity)
        let records = self.records
        let linked = try await database.withConnection { connection -> Accounts.Account? in
            guard
                let row = try connection.queryOne(
                    "SELECT s.account_id FROM social_identities s JOIN accounts a ON a.id = s.account_id WHERE s.subject_index = $1 AND a.erased_at IS NULL",
                    index)
            else { return nil }
            return try records.load(try row.decode("account_id", as: UUID.self), on: connection)?.account
        }
        if let account = linked {
            try Self.refuseStaff(account)
            let details = try linkDetails(identity)
            let session = try await openSession(
                for: account, client: Client(request.ipAddress, request.userAgent), givingBack: [], action: "session.social-sign-in"
            ) { connection in
                // What the provider tells now replaces what it told before.
                try connection.execute(
                    "UPDATE social_identities SET details_sealed = $3, last_used_at = now() WHERE account_id = $1 AND provider = $2",
                    account.id, identity.provider,
                    try records.dataKey(for: account.id, on: connection).seal(details, associatedData: AccountRecords.binding(account.id, "social")))
            }
            return .init(outcome: .signedIn, providerName: identity.providerName, session: session)
        }
        var rules = FieldRules()
        rules.email(identity.email ?? "")
        guard identity.emailVerified, let email = identity.email, (try? rules.check()) != nil else {
            throw ServiceError(
                .emailNotVerified,
                "\(identity.providerName) did not confirm an email address for you; register with your email and a password instead")
        }
        let existing = try await database.withConnection { try records.load(email: email, on: $0) }
        if let existing { try Self.refuseStaff(existing.account) }
        let kind = existing == nil ? "register" : "link"
        let ticket = SecureRandom.token()
        let sealed = try settings.keyRing.seal(
            try JSONEncoder().encode(Pending(identity: identity, kind: kind)), associatedData: Data("social-ticket".utf8))
        try await database.withConnection { connection in
            try connection.execute(
                """
                INSERT INTO social_tickets (ticket_hash, kind, identity_sealed, expires_at)
                VALUES ($1, $2, $3, now() + make_interval(secs => $4))
                """, Self.tokenHash(ticket), kind, sealed, Identity.pendingSeconds)
        }
        return .init(
            outcome: existing == nil ? .registrationRequired : .linkRequired, providerName: identity.providerName, ticket: ticket,
            email: email, displayName: identity.name)
    }

    /// Staff accounts sign in with their password alone: a provider's word is not enough to open
    /// what can read other people's data.
    private static func refuseStaff(_ account: Accounts.Account) throws {
        guard Set(account.roles).isDisjoint(with: InputRules.staffRoles) else {
            throw ServiceError(.forbidden, "staff accounts sign in with their password")
        }
    }

    /// The identity a live ticket of `kind` holds; the ticket stays until it is used.
    private func pending(_ ticket: String, kind: String) async throws -> Identity.Verified {
        let keyRing = settings.keyRing
        let sealed = try await database.withConnection { connection in
            try connection.queryOne(
                "SELECT identity_sealed FROM social_tickets WHERE ticket_hash = $1 AND kind = $2 AND expires_at > now()",
                Self.tokenHash(String(ticket.prefix(100))), kind)
        }
        guard let sealed else { throw ServiceError(.invalidState, "this sign-in has expired or was finished already; start again") }
        let pending = try JSONDecoder().decode(
            Pending.self, from: try keyRing.open(try sealed.decode("identity_sealed"), associatedData: Data("social-ticket".utf8)))
        return pending.identity
    }

    /// In the transaction that uses it: the ticket is spent (a second use finds nothing) and the
    /// identity linked to `accountId`.
    private func link(
        _ identity: Identity.Verified, ticket: String, to accountId: UUID, roles: [String], on connection: Connection
    ) throws {
        guard try connection.execute("DELETE FROM social_tickets WHERE ticket_hash = $1", Self.tokenHash(String(ticket.prefix(100)))) == 1
        else { throw ServiceError(.invalidState, "this sign-in was finished already; start again") }
        let sealed = try records.dataKey(for: accountId, on: connection).seal(
            try linkDetails(identity), associatedData: AccountRecords.binding(accountId, "social"))
        do {
            let added = try connection.execute(
                """
                INSERT INTO social_identities (account_id, provider, subject_index, details_sealed, last_used_at)
                VALUES ($1, $2, $3, $4, now()) ON CONFLICT (account_id, provider) DO NOTHING
                """, accountId, identity.provider, subjectIndex(identity), sealed)
            guard added == 1 else {
                throw ServiceError(
                    .conflict, "this account already signs in with another \(identity.providerName) identity; unlink that one first")
            }
        } catch let error as StoreError where error == .uniqueViolation {
            throw ServiceError(.conflict, "this \(identity.providerName) identity is linked to another account")
        }
        try audit.append(
            .init(actorId: accountId, actorRoles: roles, action: "account.social-link", subjectId: accountId,
                  details: ["provider": identity.provider]), on: connection)
    }

    private func linkDetails(_ identity: Identity.Verified) throws -> Data {
        try JSONEncoder().encode(
            LinkDetails(
                issuer: identity.issuer, subject: identity.subject, providerName: identity.providerName, email: identity.email,
                emailVerified: identity.emailVerified, name: identity.name))
    }

    func socialLink(_ request: Accounts.SocialLink.Request, deadline: Date) async throws -> Accounts.SignIn.Response {
        let identity = try await pending(request.ticket, kind: "link")
        let client = Client(request.ipAddress, request.userAgent)
        // The same counting and history as a sign-in with the password: this is one.
        let (account, keys) = try await checkPassword(email: identity.email ?? "", password: request.password, client: client, deadline: deadline)
        try Self.refuseStaff(account)
        let ticket = request.ticket
        return try await openSession(for: account, client: client, givingBack: keys, action: "session.social-sign-in") { connection in
            try self.link(identity, ticket: ticket, to: account.id, roles: account.roles, on: connection)
        }
    }

    func socialRegister(_ request: Accounts.SocialRegister.Request, caller: Caller, deadline: Date) async throws -> Accounts.SignIn.Response {
        let identity = try await pending(request.ticket, kind: "register")
        let registration = Accounts.Register.Request(
            email: identity.email ?? "", password: request.password, displayName: request.displayName, role: request.role,
            acceptPolicyVersion: request.acceptPolicyVersion, marketingEmailOptIn: request.marketingEmailOptIn,
            referralCode: request.referralCode, country: request.country, ipAddress: request.ipAddress)
        let ticket = request.ticket
        let account = try await register(registration, caller: caller, deadline: deadline, source: "social:\(identity.provider)") {
            id, connection in
            try self.link(identity, ticket: ticket, to: id, roles: [request.role], on: connection)
        }
        return try await openSession(
            for: account, client: Client(request.ipAddress, request.userAgent), givingBack: [], action: "session.social-sign-in")
    }

    func socialIdentities(caller: Caller) async throws -> Accounts.SocialIdentities.Response {
        let id = try Self.accountId(of: caller)
        let records = self.records
        let linked = try await database.withConnection { try Self.socialIdentities(of: id, records: records, on: $0) }
        return .init(
            items: linked.map {
                Accounts.SocialIdentity(
                    provider: $0.provider, providerName: $0.details.providerName, email: $0.details.email, name: $0.details.name,
                    linkedAt: $0.linkedAt, lastUsedAt: $0.lastUsedAt)
            })
    }

    /// The account's linked identities with what each provider told, oldest link first.
    static func socialIdentities(
        of id: UUID, records: AccountRecords, on connection: Connection
    ) throws -> [(provider: String, details: LinkDetails, linkedAt: Date, lastUsedAt: Date?)] {
        let rows = try connection.query(
            "SELECT provider, details_sealed, linked_at, last_used_at FROM social_identities WHERE account_id = $1 ORDER BY linked_at", id)
        guard !rows.isEmpty else { return [] }
        let key = try records.dataKey(for: id, on: connection)
        return try rows.map { row in
            let details = try JSONDecoder().decode(
                LinkDetails.self, from: try key.open(try row.decode("details_sealed"), associatedData: AccountRecords.binding(id, "social")))
            return (try row.decode("provider"), details, try row.decode("linked_at"), try row.decode("last_used_at"))
        }
    }

    func socialUnlink(_ request: Accounts.SocialUnlink.Request, caller: Caller) async throws -> Empty {
        let id = try Self.accountId(of: caller)
        let audit = self.audit
        try await database.transaction { connection in
            guard try connection.execute("DELETE FROM social_identities WHERE account_id = $1 AND provider = $2", id, request.provider) == 1
            else { throw ServiceError(.notFound, "this account does not sign in with that provider") }
            try audit.append(
                .init(actorId: id, actorRoles: caller.roles.map(\.rawValue).sorted(), action: "account.social-unlink", subjectId: id,
                      details: ["provider": request.provider]), on: connection)
        }
        return Empty()
    }
}
