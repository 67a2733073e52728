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
    let exports: PlatformExport

    /// `DELETE /v1/me` body.
    struct ErasureBody: JSONRequestBody {
        var password: String
        enum CodingKeys: String, CodingKey, CaseIterable { case password }
    }

    func register(on router: Router<GatewayRequestContext>) {
        let me = router.group(context: AuthenticatedContext.self)
        me.get("v1/me/export") { _, context in
            try PlatformExport.response(try await exports.assemble(for: context.session.accountId, as: context.caller))
        }
        me.delete("v1/me") { request, context in
            let body = try await JSONBody.decode(ErasureBody.self, from: request)
            let answer = try await bus.call(
                Accounts.RequestErasure.self, .init(password: body.password), as: context.caller)
            sessions.forget(context.session.token)
            return accountRoutes.clearingSession(try JSONBody.response(answer, status: .accepted))
        }
    }
}

/// One person's export, gathered from every service at once: what `GET /v1/me/export` answers the
/// person, and `POST /v1/staff/accounts/{id}/export` legal staff.
struct PlatformExport {
    let bus: BusClient
    /// How long the export waits for the slowest service before it gives up on the whole document.
    let deadline: Duration

    /// Every service's section, and which services answered.
    struct Document: Encodable {
        var generatedAt: Date
        var accountId: UUID
        var services: [String]
        var sections: [String: JSONValue]
    }

    /// Asks every service at once. A refusal (not allowed, no such account, no reason given) is
    /// the answer; any service that fails otherwise or is late fails the whole export, naming it,
    /// so nobody ever receives a file that silently leaves something out.
    func assemble(for accountId: UUID, as caller: Caller, reason: String? = nil) async throws -> Document {
        let bus = self.bus
        let deadline = self.deadline
        let answers = await withTaskGroup(of: (ServiceName, Result<JSONValue, any Error>).self) { group in
            for service in ServiceName.all {
                group.addTask {
                    do {
                        let answer = try await bus.call(
                            service: service, operation: Privacy.Export.name(for: service),
                            request: Privacy.Export.Request(accountId: accountId, reason: reason),
                            responseType: Privacy.Export.Response.self, as: caller, idempotent: true, timeout: deadline)
                        return (service, .success(answer.section))
                    } catch {
                        return (service, .failure(error))
                    }
                }
            }
            return await group.reduce(into: [ServiceName: Result<JSONValue, any Error>]()) { $0[$1.0] = $1.1 }
        }
        let refusal = ServiceName.all.lazy.compactMap { service -> ServiceError? in
            guard case .failure(let error as ServiceError) = answers[service],
                let status = ErrorCatalog.statuses[error.code.rawValue], (400..<500).contains(status)
            else { return nil }
            return error
        }.first
        if let refusal { throw refusal }
        var sections: [String: JSONValue] = [:]
        for service in ServiceName.all {
            if case .success(let section) = answers[service] { sections[service.rawValue] = section }
        }
        let missing = ServiceName.all.filter { sections[$0.rawValue] == nil }
        guard missing.isEmpty else {
            throw ServiceError(
                .exportUnavailable,
                "The export could not be made because these services did not answer: "
                    + missing.map(\.rawValue).joined(separator: ", ") + ". Please try again in a few minutes.")
        }
        return Document(generatedAt: Date(), accountId: accountId, services: ServiceName.all.map(\.rawValue), sections: sections)
    }

    /// The document as a download.
    static func response(_ document: Document) throws -> Response {
        try JSONBody.response(
            document, headers: [.contentDisposition: "attachment; filename=\"advisor-platform-export.json\""])
    }
}
