import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import ServiceKit

/// The caller's rights over the whole platform: one export document gathered from every service,
/// and erasure everywhere (driven by accounts' events, so it survives restarts).
struct PrivacyRoutes {
    let bus: BusClient
    let sessions: SessionCache
    let accountRoutes: AccountRoutes
    /// How long the export waits for the slowest service before it gives up on the whole document.
    let exportDeadline: Duration

    /// `GET /v1/me/export`: every service's section, and which services answered.
    struct ExportDocument: Encodable {
        var generatedAt: Date
        var accountId: UUID
        var services: [String]
        var sections: [String: JSONValue]
    }

    /// `DELETE /v1/me` body.
    struct ErasureBody: RequestBody {
        var password: String
        enum CodingKeys: String, CodingKey, CaseIterable { case password }
    }

    func register(on router: Router<GatewayRequestContext>) {
        let me = router.group(context: AuthenticatedContext.self)
        me.get("v1/me/export") { _, context in
            let document = try await export(for: context.session.accountId, as: context.caller)
            return try JSONBody.response(
                document,
                headers: [.contentDisposition: "attachment; filename=\"advisor-platform-export.json\""])
        }
        me.delete("v1/me") { request, context in
            let body = try await JSONBody.decode(ErasureBody.self, from: request)
            let answer = try await bus.call(
                Accounts.RequestErasure.self, .init(password: body.password), as: context.caller)
            sessions.forget(context.session.token)
            return accountRoutes.clearingSession(try JSONBody.response(answer, status: .accepted))
        }
    }

    /// Asks every service at once; any one that fails or is late fails the whole export, naming it,
    /// so a person never receives a file that silently leaves something out.
    func export(for accountId: UUID, as caller: Caller) async throws -> ExportDocument {
        let bus = self.bus
        let deadline = exportDeadline
        let answers = await withTaskGroup(of: (ServiceName, JSONValue?).self) { group in
            for service in ServiceName.all {
                group.addTask {
                    let section = try? await bus.call(
                        service: service, operation: Privacy.Export.name(for: service),
                        request: Privacy.Export.Request(accountId: accountId), responseType: Privacy.Export.Response.self,
                        as: caller, idempotent: true, timeout: deadline
                    ).section
                    return (service, section)
                }
            }
            return await group.reduce(into: [ServiceName: JSONValue]()) { $0[$1.0] = $1.1 }
        }
        let missing = ServiceName.all.filter { answers[$0] == nil }
        guard missing.isEmpty else {
            throw ServiceError(
                .exportUnavailable,
                "The export could not be made because these services did not answer: "
                    + missing.map(\.rawValue).joined(separator: ", ") + ". Please try again in a few minutes.")
        }
        return ExportDocument(
            generatedAt: Date(), accountId: accountId, services: ServiceName.all.map(\.rawValue),
            sections: Dictionary(uniqueKeysWithValues: answers.map { ($0.key.rawValue, $0.value) }))
    }
}
