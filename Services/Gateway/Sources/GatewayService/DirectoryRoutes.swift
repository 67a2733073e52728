import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import ServiceKit

/// The routes of docs/api.md "Advisor directory": categories, search, profiles, presence, reviews
/// and favorites, each one bus call to directory.
struct DirectoryRoutes {
    let bus: BusClient

    /// `PUT /v1/advisors/me` body: a field left out keeps its value; `photoUrl: ""` removes the photo.
    struct ProfileBody: JSONRequestBody {
        var headline: String?
        var bio: String?
        var categories: [String]?
        var pricePerMinuteCents: Int?
        var languages: [String]?
        var yearsExperience: Int?
        var photoUrl: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case headline, bio, categories, pricePerMinuteCents, languages, yearsExperience, photoUrl
        }
    }

    /// `PUT /v1/advisors/me/status` body.
    struct StatusBody: JSONRequestBody {
        var status: String
        enum CodingKeys: String, CodingKey, CaseIterable { case status }
    }

    /// `POST /v1/advisors/{id}/reviews` body.
    struct ReviewBody: JSONRequestBody {
        var chatId: UUID
        var rating: Int
        var text: String
        enum CodingKeys: String, CodingKey, CaseIterable { case chatId, rating, text }
    }

    /// `POST /v1/reviews/{id}/reply` body.
    struct ReplyBody: JSONRequestBody {
        var text: String
        enum CodingKeys: String, CodingKey, CaseIterable { case text }
    }

    /// `POST /v1/advisors/me/credentials` body.
    struct CredentialBody: JSONRequestBody {
        var kind: String
        var issuer: String
        var number: String
        var expiresOn: String
        enum CodingKeys: String, CodingKey, CaseIterable { case kind, issuer, number, expiresOn }
    }

    /// `POST /v1/staff/credentials/{id}/decision` body.
    struct DecisionBody: JSONRequestBody {
        var verified: Bool
        var reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case verified, reason }
    }

    /// `POST /v1/reviews/{id}/reports` body.
    struct ReportBody: JSONRequestBody {
        var reason: String
        var note: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case reason, note }
    }

    /// `POST /v1/staff/reviews/{id}/decision` body.
    struct ReviewDecisionBody: JSONRequestBody {
        var action: String
        var reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case action, reason }
    }

    /// `PUT /v1/me/favorites/{advisorId}` body (optional: without one, no notice when online).
    struct FavoriteBody: JSONRequestBody {
        var notifyWhenOnline: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case notifyWhenOnline }
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("v1/categories") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Directory.Categories.self, Empty(), as: context.caller))
        }
        router.get("v1/advisors") { request, context in
            let query = try RouteParameters.directorySearch(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Directory.Search.self, query, as: context.caller))
        }
        router.get("v1/advisors/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(
                try await bus.callReturningJSON(Directory.GetAdvisor.self, .init(advisorId: id), as: context.caller))
        }
        router.get("v1/advisors/{id}/reviews") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Directory.ListReviews.self, .init(advisorId: id, page: page), as: context.caller))
        }

        let signedIn = router.group(context: AuthenticatedContext.self)
        signedIn.get("v1/advisors/me") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Directory.MyProfile.self, Empty(), as: context.caller))
        }
        signedIn.put("v1/advisors/me") { request, context in
            let body = try await JSONBody.decode(ProfileBody.self, from: request)
            let change = Directory.UpdateProfile.Request(
                headline: body.headline, bio: body.bio, categories: body.categories,
                pricePerMinuteCents: body.pricePerMinuteCents, languages: body.languages,
                yearsExperience: body.yearsExperience, photoUrl: body.photoUrl)
            return JSONBody.relay(try await bus.callReturningJSON(Directory.UpdateProfile.self, change, as: context.caller))
        }
        signedIn.put("v1/advisors/me/status") { request, context in
            let body = try await JSONBody.decode(StatusBody.self, from: request)
            guard let status = Directory.Status(rawValue: body.status) else {
                throw ServiceError(
                    .validationFailed, "status is online or offline",
                    fieldErrors: [FieldError(field: "status", code: "invalid")])
            }
            return JSONBody.relay(
                try await bus.callReturningJSON(Directory.SetStatus.self, .init(status: status), as: context.caller))
        }
        signedIn.post("v1/advisors/{id}/reviews") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(ReviewBody.self, from: request)
            let review = Directory.PostReview.Request(advisorId: id, chatId: body.chatId, rating: body.rating, text: body.text)
            return JSONBody.relay(
                try await bus.callReturningJSON(Directory.PostReview.self, review, as: context.caller), status: .created)
        }
        signedIn.post("v1/reviews/{id}/reply") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(ReplyBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(
                    Directory.ReplyToReview.self, .init(reviewId: id, text: body.text), as: context.caller), status: .created)
        }
        signedIn.post("v1/reviews/{id}/reports") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(ReportBody.self, from: request)
            _ = try await bus.call(
                Directory.ReportReview.self, .init(reviewId: id, reason: body.reason, note: body.note), as: context.caller)
            return Response(status: .accepted)
        }
        signedIn.get("v1/staff/review-reports") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Directory.ReviewReports.self, page, as: context.caller))
        }
        signedIn.post("v1/staff/reviews/{id}/decision") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(ReviewDecisionBody.self, from: request)
            _ = try await bus.call(
                Directory.DecideReview.self, .init(reviewId: id, action: body.action, reason: body.reason), as: context.caller)
            return Response(status: .noContent)
        }
        signedIn.get("v1/me/favorites") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Directory.ListFavorites.self, page, as: context.caller))
        }
        signedIn.put("v1/me/favorites/{advisorId}") { request, context in
            let id = try RouteParameters.id("advisorId", in: context.parameters)
            let body = try await Self.optionalBody(FavoriteBody.self, from: request) ?? FavoriteBody()
            let favorite = Directory.SetFavorite.Request(advisorId: id, notifyWhenOnline: body.notifyWhenOnline ?? false)
            return JSONBody.relay(try await bus.callReturningJSON(Directory.SetFavorite.self, favorite, as: context.caller))
        }
        signedIn.delete("v1/me/favorites/{advisorId}") { _, context in
            let id = try RouteParameters.id("advisorId", in: context.parameters)
            _ = try await bus.call(Directory.RemoveFavorite.self, .init(advisorId: id), as: context.caller)
            return Response(status: .noContent)
        }
        signedIn.get("v1/advisors/me/credentials") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Directory.MyCredentials.self, Empty(), as: context.caller))
        }
        signedIn.post("v1/advisors/me/credentials") { request, context in
            let body = try await JSONBody.decode(CredentialBody.self, from: request)
            let credential = Directory.SubmitCredential.Request(
                kind: body.kind, issuer: body.issuer, number: body.number, expiresOn: body.expiresOn)
            return JSONBody.relay(
                try await bus.callReturningJSON(Directory.SubmitCredential.self, credential, as: context.caller), status: .created)
        }
        signedIn.delete("v1/advisors/me/credentials/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            _ = try await bus.call(Directory.RemoveCredential.self, .init(credentialId: id), as: context.caller)
            return Response(status: .noContent)
        }
        signedIn.get("v1/staff/credentials") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Directory.PendingCredentials.self, page, as: context.caller))
        }
        signedIn.post("v1/staff/credentials/{id}/decision") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(DecisionBody.self, from: request)
            let decision = Directory.DecideCredential.Request(credentialId: id, verified: body.verified, reason: body.reason)
            return JSONBody.relay(try await bus.callReturningJSON(Directory.DecideCredential.self, decision, as: context.caller))
        }
    }

    /// A body that may be left out entirely (no Content-Length or an empty one).
    static func optionalBody<T: JSONRequestBody>(_ type: T.Type, from request: Request) async throws -> T? {
        if let length = request.headers[.contentLength], length == "0" { return nil }
        if request.headers[.contentLength] == nil, request.headers[.transferEncoding] == nil { return nil }
        return try await JSONBody.decode(type, from: request)
    }

}
