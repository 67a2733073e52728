import Bus
import Foundation
import Hummingbird
import Models
import ServiceKit

/// Staff routes: accounts checks the roles of each (admin creates staff; support, legal or admin
/// views an account with a reason, which is audited and shown to its owner; legal or admin
/// publishes a policy and follows erasures; admin registers the partners consents may name and
/// offboards staff: roles removed, account disabled, sessions ended).
struct StaffRoutes {
    let bus: BusClient

    /// `POST /v1/staff/accounts/{id}/offboarding` body.
    struct OffboardingBody: Decodable {
        var removeRoles: [String]?
        var disable: Bool?
        var endSessions: Bool?
        var reason: String
    }

    /// `POST /v1/staff/partners` body.
    struct PartnerBody: Decodable {
        var id: String
        var name: String
    }

    func register(on router: Router<GatewayRequestContext>) {
        let staff = router.group("v1/staff", context: AuthenticatedContext.self)
        staff.post("accounts") { request, context in
            let body = try await JSONBody.decode(Accounts.CreateStaff.Request.self, from: request)
            return try JSONBody.response(
                try await bus.call(Accounts.CreateStaff.self, body, as: context.caller), status: .created)
        }
        staff.get("accounts/{id}") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            guard let reason = request.uri.queryParameters["reason"], !reason.isEmpty else {
                throw ServiceError(
                    .validationFailed, "Say why you need to see this account: ?reason=…",
                    fieldErrors: [FieldError(field: "reason", code: "required")])
            }
            let view = Accounts.StaffViewAccount.Request(accountId: id, reason: String(reason))
            return try JSONBody.response(try await bus.call(Accounts.StaffViewAccount.self, view, as: context.caller))
        }
        staff.post("accounts/{id}/offboarding") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(OffboardingBody.self, from: request)
            let change = Accounts.StaffOffboard.Request(
                accountId: id, removeRoles: body.removeRoles ?? [], disable: body.disable ?? false,
                endSessions: body.endSessions ?? false, reason: body.reason)
            return try JSONBody.response(try await bus.call(Accounts.StaffOffboard.self, change, as: context.caller))
        }
        staff.post("policy-versions") { request, context in
            let body = try await JSONBody.decode(Accounts.PolicyVersion.self, from: request)
            return try JSONBody.response(
                try await bus.call(Accounts.PublishPolicy.self, body, as: context.caller), status: .created)
        }
        staff.post("partners") { request, context in
            let body = try await JSONBody.decode(PartnerBody.self, from: request)
            let partner = try await bus.call(
                Accounts.RegisterPartner.self, .init(id: body.id, name: body.name), as: context.caller)
            return try JSONBody.response(partner, status: .created)
        }
        staff.get("erasures/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return try JSONBody.response(
                try await bus.call(Accounts.ErasureStatus.self, .init(erasureId: id), as: context.caller))
        }
    }
}
