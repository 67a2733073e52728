import Foundation
import Logging
import Models
import ServiceKit
import Store

/// The register of partner integrations that consents refer to: read by anyone, written by admins.
extension AccountsHandlers {
    func partners() async throws -> Accounts.Partners {
        try await database.withConnection { connection in
            Accounts.Partners(
                items: try connection.query("SELECT id, name, registered_at, scopes FROM partners ORDER BY id").map(Self.partner))
        }
    }

    func registerPartner(_ request: Accounts.RegisterPartner.Request, caller: Caller) async throws -> Accounts.Partner {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        if !Self.isPartnerId(request.id) { rules.fail("id", "invalid") }
        rules.text(request.name, field: "name", range: 1...100)
        if request.name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { rules.fail("name", "invalid") }
        if let scopes = request.scopes, scopes.isEmpty || scopes.count > Accounts.PartnerScope.allCases.count
            || !scopes.allSatisfy({ Accounts.PartnerScope(rawValue: $0) != nil })
        {
            rules.fail("scopes", "invalid")
        }
        if let contact = request.contactEmail { rules.email(contact, field: "contactEmail") }
        try rules.check()
        let scopes = Array(Set(request.scopes ?? Accounts.PartnerScope.allCases.map(\.rawValue))).sorted()
        let partner = try await database.transaction { connection -> Accounts.Partner in
            guard
                let row = try connection.queryOne(
                    """
                    INSERT INTO partners (id, name, scopes, contact_email) VALUES ($1, $2, $3::text[], $4) ON CONFLICT (id) DO NOTHING
                    RETURNING id, name, registered_at, scopes
                    """, request.id, request.name, scopes, request.contactEmail.map { InputRules.display(email: $0) })
            else { throw ServiceError(.partnerExists, "a partner with this id is registered") }
            try audit.append(
                .init(
                    actorId: actor, actorRoles: caller.roles.map(\.rawValue).sorted(), action: "partner.register",
                    subjectId: nil, details: ["partner": request.id, "scopes": scopes.joined(separator: ",")]), on: connection)
            return try Self.partner(row)
        }
        logger.info("partner registered", metadata: ["partner.id": "\(partner.id)", "actor.id": "\(actor)"])
        return partner
    }

    func setPartnerContact(_ request: Accounts.SetPartnerContact.Request, caller: Caller) async throws -> Accounts.PartnerContact {
        let actor = try Self.accountId(of: caller)
        guard caller.has(.admin) else { throw AccountsErrors.forbidden }
        var rules = FieldRules()
        rules.email(request.contactEmail, field: "contactEmail")
        try rules.check()
        let audit = self.audit
        return try await database.transaction { connection in
            guard
                let row = try connection.queryOne(
                    "UPDATE partners SET contact_email = $2 WHERE id = $1 RETURNING id, name, contact_email", request.partnerId,
                    InputRules.display(email: request.contactEmail))
            else { throw ServiceError(.notFound, "no partner has this id") }
            try audit.append(
                .init(
                    actorId: actor, actorRoles: caller.roles.map(\.rawValue).sorted(), action: "partner.set-contact", subjectId: nil,
                    details: ["partner": request.partnerId]), on: connection)
            return Accounts.PartnerContact(
                partnerId: try row.decode("id"), name: try row.decode("name"), contactEmail: try row.decode("contact_email"))
        }
    }

    func partnerContacts(_ request: Accounts.PartnerContacts.Request, caller: Caller) async throws -> Accounts.PartnerContacts.Response {
        guard caller.has(.system) else { throw AccountsErrors.forbidden }
        guard request.partnerIds.count <= 100 else { throw ServiceError(.validationFailed, "at most 100 partners at a time") }
        let rows = try await database.withConnection { connection in
            try connection.query("SELECT id, name, contact_email FROM partners WHERE id = ANY($1::text[])", request.partnerIds)
        }
        return .init(
            contacts: try rows.map {
                Accounts.PartnerContact(partnerId: try $0.decode("id"), name: try $0.decode("name"), contactEmail: try $0.decode("contact_email"))
            })
    }

    private static func partner(_ row: Row) throws -> Accounts.Partner {
        Accounts.Partner(
            id: try row.decode("id"), name: try row.decode("name"), registeredAt: try row.decode("registered_at"),
            scopes: try row.decode("scopes", as: [String].self))
    }
}
