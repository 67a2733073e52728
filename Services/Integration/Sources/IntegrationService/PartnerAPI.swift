import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Models
import NIOCore
import ServiceKit
import Synchronization

/// The partner API on the integration port (`/partner/v1/…`, described by this port's
/// `/openapi.json`): every request carries `Authorization: Bearer adv_live_…` (or `adv_test_…`),
/// which accounts checks on every call, so a revoked key is refused at once (401); each route
/// names the scope it needs (403 `insufficient_scope`); each key has its own rate (429 with
/// `Retry-After`). It serves the public directory (partners that embed advisors), and referral
/// codes with their sign-up counts (small groups suppressed, nobody identified).
struct PartnerAPI: Sendable {
    let bus: BusClient
    let limiter: RateLimiter<UUID>
    /// Report groups smaller than this are suppressed (`INTEGRATION_REPORT_MIN_GROUP`).
    let minGroupSize: Int
    /// The partners' share of what referred members pay (`INTEGRATION_REVENUE_SHARE_PERCENT`).
    let revenueSharePercent: Int
    let webhooks: WebhookEndpoints
    let logger: Logger

    func register(on router: Router<IntegrationRequestContext>) {
        router.get("partner/v1/categories") { request, _ -> Response in
            _ = try await admit(request, needing: .directoryRead)
            return Self.json(try await bus.callReturningJSON(Directory.Categories.self, Empty(), as: .anonymous))
        }
        router.get("partner/v1/advisors") { request, _ -> Response in
            _ = try await admit(request, needing: .directoryRead)
            return Self.json(try await bus.callReturningJSON(Directory.Search.self, try RouteParameters.directorySearch(from: request), as: .anonymous))
        }
        router.get("partner/v1/advisors/{id}") { request, context -> Response in
            _ = try await admit(request, needing: .directoryRead)
            let id = try RouteParameters.id("id", in: context.parameters)
            return Self.json(try await bus.callReturningJSON(Directory.GetAdvisor.self, .init(advisorId: id), as: .anonymous))
        }
        router.post("partner/v1/referral-codes") { request, _ -> Response in
            let key = try await admit(request, needing: .referralsWrite)
            let made = try await bus.callReturningJSON(
                Accounts.CreateReferralCode.self, .init(partnerId: key.partnerId, code: try await Self.code(in: request)), as: .system,
                idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!])
            return Self.json(made, status: .created)
        }
        router.get("partner/v1/referral-codes") { request, _ -> Response in
            let key = try await admit(request, needing: .referralsWrite)
            return Self.json(try await bus.callReturningJSON(Accounts.ListReferralCodes.self, .init(partnerId: key.partnerId), as: .system))
        }
        router.get("partner/v1/reports/referrals") { request, _ -> Response in
            let key = try await admit(request, needing: .reportsRead)
            guard let from = try RouteParameters.query("from", in: request), let to = try RouteParameters.query("to", in: request) else {
                throw ServiceError(
                    .validationFailed, "Give the days to report: from and to, YYYY-MM-DD.",
                    fieldErrors: [.init(field: "from", code: "required"), .init(field: "to", code: "required")])
            }
            let report = Accounts.ReferralReport.Request(
                partnerId: key.partnerId, from: from, to: to, minGroupSize: minGroupSize, revenueSharePercent: revenueSharePercent)
            return Self.json(try await bus.callReturningJSON(Accounts.ReferralReport.self, report, as: .system))
        }
        registerWebhooks(on: router)
        router.put("partner/v1/oauth/redirect-uris") { request, _ -> Response in
            let key = try await admit(request, needing: .usersRead)
            let body = try await JSONBody.decode(RedirectURIs.self, from: request)
            return Self.json(
                try await bus.callReturningJSON(
                    Accounts.SetRedirectURIs.self, .init(partnerId: key.partnerId, redirectUris: body.redirectUris), as: .system))
        }
        // Acting for a person: an access token from their grant, not an API key.
        router.get("partner/v1/users/me") { request, _ -> Response in
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer adv_at_"), header.count <= 200 else {
                throw ServiceError(.unauthenticated, "Send the access token the person's grant gave: Authorization: Bearer adv_at_….")
            }
            let user = try await bus.call(Accounts.OAuthUser.self, .init(accessToken: String(header.dropFirst(7))), as: .system)
            // A grant's tokens share one rate, as a key's requests do.
            if let wait = limiter.take(user.grantId) {
                throw ServiceError(.rateLimited, "This grant's rate is used up; try again in \(wait) s.", retryAfterSeconds: wait)
            }
            guard user.scopes.contains(Accounts.PartnerScope.usersRead.rawValue) else {
                throw ServiceError(.insufficientScope, "The person did not grant users:read.")
            }
            logger.info("partner read a person's profile", metadata: ["partner.id": "\(user.partnerId)"])
            return try JSONBody.response(Person(subject: user.subject, displayName: user.displayName))
        }
    }

    private struct RedirectURIs: JSONRequestBody {
        var redirectUris: [String]
        enum CodingKeys: String, CodingKey, CaseIterable { case redirectUris }
    }

    /// What a partner sees of a person who granted `users:read`: their id for this partner alone, and their display name.
    private struct Person: Encodable {
        var subject: String
        var displayName: String
    }

    /// The key the request carries, checked, within its rate, holding `scope`.
    func admit(_ request: Request, needing scope: Accounts.PartnerScope) async throws -> Accounts.AuthenticatePartnerKey.Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.count <= 200 else {
            throw ServiceError(.unauthenticated, "Send your API key: Authorization: Bearer adv_live_….")
        }
        let key = try await bus.call(Accounts.AuthenticatePartnerKey.self, .init(key: String(header.dropFirst(7))), as: .system)
        if let wait = limiter.take(key.keyId) {
            throw ServiceError(.rateLimited, "This key's rate is used up; try again in \(wait) s.", retryAfterSeconds: wait)
        }
        guard key.scopes.contains(scope.rawValue) else {
            throw ServiceError(.insufficientScope, "This key lacks the \(scope.rawValue) scope this route needs.")
        }
        logger.info("partner request", metadata: ["partner.id": "\(key.partnerId)", "key.id": "\(key.keyId)", "http.path": "\(request.uri.path)"])
        return key
    }

    /// The code a `POST /partner/v1/referral-codes` body names: nothing, `{}`, or `{"code": "…"}`;
    /// 400 for what is not JSON, 422 for anything else.
    static func code(in request: Request) async throws -> String? {
        let data = Data(try await request.body.collect(upTo: 4096).readableBytesView)
        guard !data.isEmpty else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: data) else {
            throw ServiceError(.malformedJSON, "The body is `{\"code\": \"…\"}` or nothing.")
        }
        guard let fields = object as? [String: Any] else {
            throw ServiceError(.validationFailed, "The body is a JSON object.", fieldErrors: [.init(field: "body", code: "invalid")])
        }
        if let unknown = fields.keys.sorted().first(where: { $0 != "code" }) {
            throw ServiceError(.validationFailed, "Unknown field \(unknown.prefix(40)).", fieldErrors: [.init(field: String(unknown.prefix(40)), code: "unknown_field")])
        }
        guard let code = fields["code"] else { return nil }
        guard let text = code as? String else {
            throw ServiceError(.validationFailed, "code is text.", fieldErrors: [.init(field: "code", code: "invalid")])
        }
        return text
    }

    static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

