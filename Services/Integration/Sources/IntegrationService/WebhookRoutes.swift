import Foundation
import HTTPTypes
import Hummingbird
import Models
import ServiceKit
import Store

/// The partner API's webhook routes (`/partner/v1/webhooks/…`, scope `webhooks:manage`): a
/// partner's endpoints, their secrets, a test message, the attempts made, and replays.
extension PartnerAPI {
    func registerWebhooks(on router: Router<IntegrationRequestContext>) {
        let endpoints = "partner/v1/webhooks/endpoints"
        router.post(RouterPath(endpoints)) { request, _ -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            let (data, draft) = try await Self.body(WebhookEndpoints.Draft.self, of: request)
            if let earlier = try await webhooks.earlierAnswer(partnerId: key.partnerId, key: Self.idempotencyKey(request), request: Self.boundRequest(request, data)) {
                return Self.json(earlier.1, status: HTTPResponse.Status(code: earlier.0))
            }
            try await webhooks.check(url: draft.url, eventTypes: draft.eventTypes, description: draft.description)
            return try await once(request, partnerId: key.partnerId, body: data) { connection in
                (201, try WireCoding.encoder().encode(try webhooks.create(draft, partnerId: key.partnerId, on: connection)))
            }
        }
        router.get(RouterPath(endpoints)) { request, _ -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            return try JSONBody.response(Items(items: try await webhooks.list(partnerId: key.partnerId)))
        }
        router.get(RouterPath("\(endpoints)/{id}")) { request, context -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            return try JSONBody.response(try await webhooks.get(try Self.endpointId(context), partnerId: key.partnerId))
        }
        router.patch(RouterPath("\(endpoints)/{id}")) { request, context -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            let id = try Self.endpointId(context)
            let (_, change) = try await Self.body(WebhookEndpoints.Change.self, of: request)
            try await webhooks.check(url: change.url, eventTypes: change.eventTypes, description: change.description)
            return try JSONBody.response(try await webhooks.update(id, change, partnerId: key.partnerId))
        }
        router.delete(RouterPath("\(endpoints)/{id}")) { request, context -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            try await webhooks.delete(try Self.endpointId(context), partnerId: key.partnerId)
            return Response(status: .noContent)
        }
        router.post(RouterPath("\(endpoints)/{id}/rotate-secret")) { request, context -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            let id = try Self.endpointId(context)
            return try await once(request, partnerId: key.partnerId, body: try await Self.emptyBody(of: request)) { connection in
                (200, try WireCoding.encoder().encode(["secret": try webhooks.rotateSecret(id, partnerId: key.partnerId, on: connection)]))
            }
        }
        router.post(RouterPath("\(endpoints)/{id}/test")) { request, context -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            let id = try Self.endpointId(context)
            return try await once(request, partnerId: key.partnerId, body: try await Self.emptyBody(of: request)) { connection in
                (202, try WireCoding.encoder().encode(["messageId": try webhooks.sendTest(id, partnerId: key.partnerId, on: connection)]))
            }
        }
        router.post(RouterPath("\(endpoints)/{id}/replay")) { request, context -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            let id = try Self.endpointId(context)
            let (data, replay) = try await Self.body(WebhookEndpoints.Replay.self, of: request)
            return try await once(request, partnerId: key.partnerId, body: data) { connection in
                (202, try WireCoding.encoder().encode(["queued": try webhooks.replay(id, replay, partnerId: key.partnerId, on: connection)]))
            }
        }
        router.get(RouterPath("\(endpoints)/{id}/attempts")) { request, context -> Response in
            let key = try await admit(request, needing: .webhooksManage)
            let id = try Self.endpointId(context)
            let page = try PageCursor(try RouteParameters.page(from: request))
            let messageId = try RouteParameters.query("messageId", in: request)
            if let messageId, messageId.utf8.count > 100 { throw RouteParameters.invalidQuery("messageId") }
            return try JSONBody.response(try await webhooks.attempts(id, partnerId: key.partnerId, messageId: messageId, page: page))
        }
    }

    private struct Items<Item: Encodable & Sendable>: Encodable, Sendable {
        var items: [Item]
    }

    /// An endpoint id in the path; anything else names nothing (404).
    private static func endpointId(_ context: IntegrationRequestContext) throws -> UUID {
        try RouteParameters.id("id", in: context.parameters)
    }

    /// The body as given (for the Idempotency-Key's comparison) and as read.
    private static func body<Body: JSONRequestBody & Sendable>(_ type: Body.Type, of request: Request) async throws -> (Data, Body) {
        var request = request
        let buffer = try await request.collectBody(upTo: HTTPLimits.maxBodyBytes)
        return (Data(buffer.readableBytesView), try await JSONBody.decode(type, from: request))
    }

    /// The body of a POST that takes none: nothing, or `{}`.
    private static func emptyBody(of request: Request) async throws -> Data {
        let data = Data(try await request.body.collect(upTo: 4096).readableBytesView)
        guard data.isEmpty || (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?.isEmpty == true else {
            throw ServiceError(.validationFailed, "This operation takes no body (or {}).", fieldErrors: [.init(field: "body", code: "invalid")])
        }
        return Data()
    }

    /// Runs `body` once per Idempotency-Key and answers what it answered.
    private func once(
        _ request: Request, partnerId: String, body data: Data,
        _ body: @escaping @Sendable (Store.Connection) throws -> (Int, Data)
    ) async throws -> Response {
        let (status, answer) = try await webhooks.once(
            partnerId: partnerId, key: Self.idempotencyKey(request), request: Self.boundRequest(request, data), body)
        return Self.json(answer, status: HTTPResponse.Status(code: status))
    }

    private static func idempotencyKey(_ request: Request) -> String? {
        request.headers[HTTPField.Name("Idempotency-Key")!]
    }

    /// What an Idempotency-Key is bound to: the route and the body.
    private static func boundRequest(_ request: Request, _ body: Data) -> Data {
        Data(request.uri.path.utf8) + body
    }
}
