import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import ServiceKit

/// The routes of docs/api.md "Message boards": anyone reads; signed-in people write. Each is one
/// bus call to boards.
struct BoardsRoutes {
    let bus: BusClient

    /// `POST /v1/boards/{slug}/threads` body.
    struct ThreadBody: JSONRequestBody {
        var title: String
        var text: String
        var acknowledgePublic: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case title, text, acknowledgePublic }
    }

    /// `POST /v1/threads/{id}/posts` body.
    struct ReplyBody: JSONRequestBody {
        var text: String
        var acknowledgePublic: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case text, acknowledgePublic }
    }

    /// `PATCH /v1/posts/{id}` body.
    struct EditBody: JSONRequestBody {
        var text: String
        enum CodingKeys: String, CodingKey, CaseIterable { case text }
    }

    /// `POST /v1/posts/{id}/flags` body.
    struct FlagBody: JSONRequestBody {
        var reason: String
        var note: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case reason, note }
    }

    /// `POST /v1/staff/posts/{id}/decision` body.
    struct DecisionBody: JSONRequestBody {
        var action: String
        var reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case action, reason }
    }

    /// `POST /v1/staff/boards` body.
    struct NewBoardBody: JSONRequestBody {
        var slug: String
        var name: String
        var description: String
        var advisorsOnly: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case slug, name, description, advisorsOnly }
    }

    /// `PATCH /v1/staff/boards/{slug}` body: what is left out stays.
    struct BoardChangeBody: JSONRequestBody {
        var name: String?
        var description: String?
        var advisorsOnly: Bool?
        var archived: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, description, advisorsOnly, archived }
    }

    /// `PUT /v1/staff/board-tiers/{accountId}` body.
    struct TierBody: JSONRequestBody {
        var tier: Int
        var reason: String
        enum CodingKeys: String, CodingKey, CaseIterable { case tier, reason }
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("v1/boards") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Boards.ListBoards.self, Empty(), as: context.caller))
        }
        router.get("v1/boards/search") { request, context in
            let query = Boards.Search.Request(q: try RouteParameters.query("q", in: request) ?? "", page: try RouteParameters.page(from: request))
            return JSONBody.relay(try await bus.callReturningJSON(Boards.Search.self, query, as: context.caller))
        }
        router.get("v1/boards/{slug}/threads") { request, context in
            let page = Boards.ListThreads.Request(board: try Self.slug(context.parameters), page: try RouteParameters.page(from: request))
            return JSONBody.relay(try await bus.callReturningJSON(Boards.ListThreads.self, page, as: context.caller))
        }
        router.get("v1/threads/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.GetThread.self, .init(threadId: id), as: context.caller))
        }
        router.get("v1/threads/{id}/posts") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let page = Boards.ListPosts.Request(threadId: id, page: try RouteParameters.page(from: request))
            return JSONBody.relay(try await bus.callReturningJSON(Boards.ListPosts.self, page, as: context.caller))
        }

        let signedIn = router.group(context: AuthenticatedContext.self)
        signedIn.post("v1/boards/{slug}/threads") { request, context in
            let slug = try Self.slug(context.parameters)
            let body = try await JSONBody.decode(ThreadBody.self, from: request)
            let thread = Boards.CreateThread.Request(board: slug, title: body.title, text: body.text, acknowledgePublic: body.acknowledgePublic)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.CreateThread.self, thread, as: context.caller), status: .created)
        }
        signedIn.post("v1/threads/{id}/posts") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(ReplyBody.self, from: request)
            let reply = Boards.Reply.Request(threadId: id, text: body.text, acknowledgePublic: body.acknowledgePublic)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.Reply.self, reply, as: context.caller), status: .created)
        }
        signedIn.patch("v1/posts/{id}") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(EditBody.self, from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.EditPost.self, .init(postId: id, text: body.text), as: context.caller))
        }
        signedIn.delete("v1/posts/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.DeletePost.self, .init(postId: id), as: context.caller))
        }
        signedIn.post("v1/posts/{id}/flags") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(FlagBody.self, from: request)
            let flag = Boards.FlagPost.Request(postId: id, reason: body.reason, note: body.note)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.FlagPost.self, flag, as: context.caller), status: .created)
        }
        signedIn.get("v1/staff/moderation/queue") { request, context in
            JSONBody.relay(
                try await bus.callReturningJSON(Boards.ModerationQueue.self, try RouteParameters.page(from: request), as: context.caller))
        }
        signedIn.post("v1/staff/posts/{id}/decision") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(DecisionBody.self, from: request)
            let decision = Boards.Decide.Request(postId: id, action: body.action, reason: body.reason)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.Decide.self, decision, as: context.caller))
        }
        signedIn.get("v1/staff/posts/{id}/edits") { request, context in
            let edits = Boards.PostEdits.Request(postId: try RouteParameters.id("id", in: context.parameters), page: try RouteParameters.page(from: request))
            return JSONBody.relay(try await bus.callReturningJSON(Boards.PostEdits.self, edits, as: context.caller))
        }
        signedIn.post("v1/staff/boards") { request, context in
            let body = try await JSONBody.decode(NewBoardBody.self, from: request)
            let board = Boards.CreateBoard.Request(slug: body.slug, name: body.name, description: body.description, advisorsOnly: body.advisorsOnly)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.CreateBoard.self, board, as: context.caller), status: .created)
        }
        signedIn.patch("v1/staff/boards/{slug}") { request, context in
            let body = try await JSONBody.decode(BoardChangeBody.self, from: request)
            let change = Boards.UpdateBoard.Request(
                slug: try Self.slug(context.parameters), name: body.name, description: body.description, advisorsOnly: body.advisorsOnly,
                archived: body.archived)
            return JSONBody.relay(try await bus.callReturningJSON(Boards.UpdateBoard.self, change, as: context.caller))
        }
        signedIn.put("v1/staff/board-tiers/{accountId}") { request, context in
            let body = try await JSONBody.decode(TierBody.self, from: request)
            return try await setTier(context, tier: body.tier, reason: body.reason)
        }
        signedIn.delete("v1/staff/board-tiers/{accountId}") { request, context in
            guard let reason = try RouteParameters.query("reason", in: request) else {
                throw ServiceError(
                    .validationFailed, "Say why the tier goes back to the person's behaviour: ?reason=…",
                    fieldErrors: [FieldError(field: "reason", code: "required")])
            }
            return try await setTier(context, tier: nil, reason: reason)
        }
        signedIn.put("v1/staff/boards/{slug}/moderators/{accountId}") { _, context in
            try await assign(context, assigned: true)
        }
        signedIn.delete("v1/staff/boards/{slug}/moderators/{accountId}") { _, context in
            try await assign(context, assigned: false)
        }
    }

    /// Sets a person's tier by hand (`tier` nil: back to their behaviour): their standing.
    private func setTier(_ context: AuthenticatedContext, tier: Int?, reason: String) async throws -> Response {
        let change = Boards.SetTier.Request(accountId: try RouteParameters.id("accountId", in: context.parameters), tier: tier, reason: reason)
        return JSONBody.relay(try await bus.callReturningJSON(Boards.SetTier.self, change, as: context.caller))
    }

    /// Gives a moderator a board, or takes it back: 204.
    private func assign(_ context: AuthenticatedContext, assigned: Bool) async throws -> Response {
        let change = Boards.AssignModerator.Request(
            board: try Self.slug(context.parameters), accountId: try RouteParameters.id("accountId", in: context.parameters), assigned: assigned)
        _ = try await bus.call(Boards.AssignModerator.self, change, as: context.caller)
        return Response(status: .noContent)
    }

    /// A board's slug from the path; one that cannot be a slug names no board (404).
    private static func slug(_ parameters: Parameters) throws -> String {
        guard let slug = parameters.get("slug"), (1...40).contains(slug.count),
            slug.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" })
        else { throw ServiceError(.notFound, "no such board") }
        return slug
    }
}
