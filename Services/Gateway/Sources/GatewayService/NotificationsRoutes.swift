import Bus
import Foundation
import Hummingbird
import Models
import ServiceKit

/// The routes of docs/api.md "Notifications": a signed-in person's inbox and settings, each one
/// bus call to notifications.
struct NotificationsRoutes {
    let bus: BusClient

    /// `POST /v1/me/notifications/read` body: some notices, or all of them.
    struct ReadBody: RequestBody {
        var ids: [UUID]?
        var all: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case ids, all }
    }

    /// `PUT /v1/me/notification-settings` body.
    struct SettingsBody: RequestBody {
        var kinds: [KindBody]
        var quietHours: QuietBody?
        enum CodingKeys: String, CodingKey, CaseIterable { case kinds, quietHours }

        var settings: Notifications.Settings {
            Notifications.Settings(
                kinds: kinds.map { .init(kind: $0.kind, channels: $0.channels) },
                quietHours: quietHours.map { .init(start: $0.start, end: $0.end, timeZone: $0.timeZone) })
        }
    }

    struct KindBody: Decodable {
        var kind: String
        var channels: [String: Bool]
        enum CodingKeys: String, CodingKey, CaseIterable { case kind, channels }
        init(from decoder: any Decoder) throws {
            try JSONBody.refuseUnknownFields(in: decoder, known: ["kind", "channels"])
            let container = try decoder.container(keyedBy: CodingKeys.self)
            kind = try container.decode(String.self, forKey: .kind)
            channels = try container.decode([String: Bool].self, forKey: .channels)
        }
    }

    struct QuietBody: Decodable {
        var start: String
        var end: String
        var timeZone: String
        enum CodingKeys: String, CodingKey, CaseIterable { case start, end, timeZone }
        init(from decoder: any Decoder) throws {
            try JSONBody.refuseUnknownFields(in: decoder, known: ["start", "end", "timeZone"])
            let container = try decoder.container(keyedBy: CodingKeys.self)
            start = try container.decode(String.self, forKey: .start)
            end = try container.decode(String.self, forKey: .end)
            timeZone = try container.decode(String.self, forKey: .timeZone)
        }
    }

    func register(on router: Router<GatewayRequestContext>) {
        let signedIn = router.group(context: AuthenticatedContext.self)
        signedIn.get("v1/me/notifications") { request, context in
            let unread: Bool
            switch try RouteParameters.query("unread", in: request) {
            case nil, "false": unread = false
            case "true": unread = true
            default: throw RouteParameters.invalidQuery("unread")
            }
            let inbox = Notifications.Inbox.Request(unreadOnly: unread, page: try RouteParameters.page(from: request))
            return JSONBody.relay(try await bus.callReturningJSON(Notifications.Inbox.self, inbox, as: context.caller))
        }
        signedIn.post("v1/me/notifications/read") { request, context in
            let body = try await JSONBody.decode(ReadBody.self, from: request)
            let read = Notifications.MarkRead.Request(ids: body.ids, all: body.all)
            return JSONBody.relay(try await bus.callReturningJSON(Notifications.MarkRead.self, read, as: context.caller))
        }
        signedIn.get("v1/me/notification-settings") { _, context in
            JSONBody.relay(try await bus.callReturningJSON(Notifications.GetSettings.self, Empty(), as: context.caller))
        }
        signedIn.put("v1/me/notification-settings") { request, context in
            let body = try await JSONBody.decode(SettingsBody.self, from: request)
            return JSONBody.relay(try await bus.callReturningJSON(Notifications.PutSettings.self, body.settings, as: context.caller))
        }
    }
}
