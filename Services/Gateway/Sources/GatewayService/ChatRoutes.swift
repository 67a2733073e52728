import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import ServiceKit

/// The routes of docs/api.md "Chat": a chat's life and its transcript, each one bus call to chat.
struct ChatRoutes {
    let bus: BusClient

    /// `POST /v1/chats` body.
    struct ChatBody: JSONRequestBody {
        var advisorId: UUID
        enum CodingKeys: String, CodingKey, CaseIterable { case advisorId }
    }

    /// `POST /v1/chats/{id}/messages` body.
    struct MessageBody: JSONRequestBody {
        var text: String
        var clientMessageId: String
        enum CodingKeys: String, CodingKey, CaseIterable { case text, clientMessageId }
    }

    func register(on router: Router<GatewayRequestContext>) {
        registerStaff(on: router)
        let signedIn = router.group(context: AuthenticatedContext.self)
        signedIn.post("v1/chats") { request, context in
            let body = try await JSONBody.decode(ChatBody.self, from: request)
            return JSONBody.relay(
                try await bus.callReturningJSON(Chat.RequestChat.self, .init(advisorId: body.advisorId), as: context.caller),
                status: .created)
        }
        signedIn.get("v1/chats") { request, context in
            let page = try RouteParameters.page(from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Chat.History.self, page, as: context.caller))
        }
        signedIn.get("v1/chats/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Chat.Get.self, .init(chatId: id), as: context.caller))
        }
        signedIn.post("v1/chats/{id}/accept") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Chat.Accept.self, .init(chatId: id), as: context.caller))
        }
        signedIn.post("v1/chats/{id}/decline") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Chat.Decline.self, .init(chatId: id), as: context.caller))
        }
        signedIn.post("v1/chats/{id}/end") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Chat.End.self, .init(chatId: id), as: context.caller))
        }
        signedIn.post("v1/chats/{id}/messages") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let body = try await JSONBody.decode(MessageBody.self, from: request)
            let message = Chat.Send.Request(chatId: id, text: body.text, clientMessageId: body.clientMessageId)
            return JSONBody.relay(try await bus.callReturningJSON(Chat.Send.self, message, as: context.caller), status: .created)
        }
        signedIn.get("v1/chats/{id}/messages") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            var page = Chat.Messages.Request(chatId: id)
            if let after = try RouteParameters.query("after", in: request) {
                guard let value = Int64(after), value >= 0 else { throw RouteParameters.invalidQuery("after") }
                page.after = value
            }
            if let limit = try RouteParameters.query("limit", in: request) {
                guard let value = Int(limit), (1...Chat.Messages.maxLimit).contains(value) else { throw RouteParameters.invalidQuery("limit") }
                page.limit = value
            }
            return JSONBody.relay(try await bus.callReturningJSON(Chat.Messages.self, page, as: context.caller))
        }
    }

    /// `GET /v1/staff/chats/{id}/transcript?reason=…`: support staff read a chat, audited for both participants.
    func registerStaff(on router: Router<GatewayRequestContext>) {
        router.group(context: AuthenticatedContext.self).get("v1/staff/chats/{id}/transcript") { request, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            let reason = try RouteParameters.query("reason", in: request) ?? ""
            return JSONBody.relay(
                try await bus.callReturningJSON(Chat.StaffTranscript.self, .init(chatId: id, reason: reason), as: context.caller))
        }
    }
}
