import Bus
import Foundation
import Hummingbird
import Models
import ServiceKit

/// Staff routes: accounts checks the roles of each (admin creates staff; support, legal or admin
/// views an account with a reason, which is audited and shown to its owner; legal or admin
/// exports a person's data for a legal reason, shown to them the same way, publishes a policy and
/// follows erasures; admin registers the partners consents may name and offboards staff: roles
/// removed, account disabled, sessions ended).
struct StaffRoutes {
    let bus: BusClient
    let exports: PlatformExport
    /// Forgotten when a version is published here, so this gateway shows it at once.
    let policies: PolicyCache

    /// `POST /v1/staff/accounts/{id}/export` body.
    struct LegalExportBody: JSONRequestBody {
        var reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case reason }
    }

    /// `POST /v1/staff/accounts/{id}/offboarding` body.
    struct OffboardingBody: JSONRequestBody {
        var removeRoles: [String]?
        var disable: Bool?
        var endSessions: Bool?
        var reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case removeRoles, disable, endSessions, reason }
    }

    /// `POST /v1/staff/accounts` body.
    struct StaffAccountBody: JSONRequestBody {
        var email: String
        var password: String
        var displayName: String
        var roles: [String]
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password, displayName, roles }
    }

    /// `POST /v1/staff/policy-versions` body.
    struct PolicyVersionBody: JSONRequestBody {
        var version: String
        var effectiveDate: Date
        enum CodingKeys: String, CodingKey, CaseIterable { case version, effectiveDate }
    }

    /// `POST /v1/staff/partners` body.
    struct PartnerBody: JSONRequestBody {
        var id: String
        var name: String
        var scopes: [String]?
        var contactEmail: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case id, name, scopes, contactEmail }
    }

    /// `PUT /v1/staff/partners/{id}/contact` body.
    struct PartnerContactBody: JSONRequestBody {
        var contactEmail: String
        enum CodingKeys: String, CodingKey, CaseIterable { case contactEmail }
    }

    /// `POST /v1/staff/partners/{id}/keys` body.
    struct PartnerKeyBody: JSONRequestBody {
        var environment: String
        var scopes: [String]
        enum CodingKeys: String, CodingKey, CaseIterable { case environment, scopes }
    }

    /// A partner id in the path: one that cannot be one names nothing (404).
    static func partnerId(_ parameters: Parameters) throws -> String {
        guard let id = parameters.get("id"), id.wholeMatch(of: /[a-z0-9][a-z0-9-]{0,62}/) != nil else {
            throw ServiceError(.notFound, "There is no partner with this id.")
        }
        return id
    }

    func register(on router: Router<GatewayRequestContext>) {
        let staff = router.group("v1/staff", context: AuthenticatedContext.self)
        staff.post("accounts") { request, context in
            let body = try await JSONBody.decode(StaffAccountBody.self, from: request)
            let staff = Accounts.CreateStaff.Request(
                email: body.email, password: body.password, displayName: body.displayName, roles: body.roles)
            return try JSONBody.response(
                try await bus.call(Accounts.CreateStaff.self, staff, as: context.caller), status: .created)
        }
        staff.get("accounts/{id}") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            guard let reason = try RouteParameters.query("reason", in: request), !reason.isEmpty else {
                throw ServiceError(
                    .validationFailed, "Say why you need to see this account: ?reason=…",
                    fieldErrors: [FieldError(field: "reason", code: "required")])
            }
            let view = Accounts.StaffViewAccount.Request(accountId: id, reason: reason)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.StaffViewAccount.self, view, as: context.caller))
        }
        staff.post("accounts/{id}/export") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(LegalExportBody.self, from: request)
            return try PlatformExport.response(try await exports.assemble(for: id, as: context.caller, reason: body.reason))
        }
        staff.post("accounts/{id}/offboarding") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(OffboardingBody.self, from: request)
            let change = Accounts.StaffOffboard.Request(
                accountId: id, removeRoles: body.removeRoles ?? [], disable: body.disable ?? false,
                endSessions: body.endSessions ?? false, reason: body.reason)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.StaffOffboard.self, change, as: context.caller))
        }
        staff.post("policy-versions") { request, context in
            let body = try await JSONBody.decode(PolicyVersionBody.self, from: request)
            let policy = Accounts.PolicyVersion(version: body.version, effectiveDate: body.effectiveDate)
            let published = try await bus.call(Accounts.PublishPolicy.self, policy, as: context.caller)
            policies.forget()
            return try JSONBody.response(published, status: .created)
        }
        staff.post("partners") { request, context in
            let body = try await JSONBody.decode(PartnerBody.self, from: request)
            let partner = try await bus.call(
                Accounts.RegisterPartner.self, .init(id: body.id, name: body.name, scopes: body.scopes, contactEmail: body.contactEmail),
                as: context.caller)
            return try JSONBody.response(partner, status: .created)
        }
        staff.put("partners/{id}/contact") { request, context in
            let partner = try Self.partnerId(context.parameters)
            let body = try await JSONBody.decode(PartnerContactBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Accounts.SetPartnerContact.self, .init(partnerId: partner, contactEmail: body.contactEmail), as: context.caller))
        }
        staff.post("partners/{id}/keys") { request, context in
            let partner = try Self.partnerId(context.parameters)
            let body = try await JSONBody.decode(PartnerKeyBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Accounts.CreatePartnerKey.self, .init(partnerId: partner, environment: body.environment, scopes: body.scopes),
                    as: context.caller), status: .created)
        }
        staff.get("partners/{id}/keys") { _, context in
            let partner = try Self.partnerId(context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.ListPartnerKeys.self, .init(partnerId: partner), as: context.caller))
        }
        staff.delete("partner-keys/{id}") { _, context in
            let key = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Accounts.RevokePartnerKey.self, .init(keyId: key), as: context.caller))
        }
        staff.get("erasures/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return try JSONBody.response(
                try await bus.call(Accounts.ErasureStatus.self, .init(erasureId: id), as: context.caller))
        }
    }
}
