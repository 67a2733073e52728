import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Models
import NIOCore
import ServiceKit

/// The routes of docs/api.md "Notifications": a signed-in person's inbox and settings, each one
/// bus call to notifications.
struct NotificationsRoutes {
    let bus: BusClient

    /// `POST /v1/me/notifications/read` body: some notices, or all of them.
    struct ReadBody: JSONRequestBody {
        var ids: [UUID]?
        var all: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case ids, all }
    }

    /// `PUT /v1/me/notification-settings` body.
    struct SettingsBody: JSONRequestBody {
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
        enum CodingKeys: String, CodingKey, CaseIterable { case kind, channels, required }
        init(from decoder: any Decoder) throws {
            try JSONBody.refuseUnknownFields(in: decoder, known: ["kind", "channels", "required"])
            let container = try decoder.container(keyedBy: CodingKeys.self)
            kind = try container.decode(String.self, forKey: .kind)
            channels = try container.decode([String: Bool].self, forKey: .channels)
            // An answer sent back carries each kind's required channels: checked for shape, not used.
            _ = try container.decodeIfPresent([Notifications.Channel].self, forKey: .required)
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

    /// `POST /v1/staff/campaigns` body.
    struct CampaignBody: JSONRequestBody {
        var channel: String?
        var subject: String
        var text: String
        enum CodingKeys: String, CodingKey, CaseIterable { case channel, subject, text }
    }

    func register(on router: Router<GatewayRequestContext>) {
        // RFC 8058: the link of an email's List-Unsubscribe header. A GET (mail scanners follow
        // links) shows a page with a button and changes nothing; the POST a mail client or that
        // button sends withdraws the consent. Neither reads a cookie: the signed link is the credential.
        router.get("v1/unsubscribe/{token}") { _, context in
            let token = context.parameters.get("token") ?? ""
            do {
                _ = try await bus.call(Notifications.Unsubscribe.self, .init(token: token, withdraw: false), as: .anonymous)
            } catch let error as ServiceError where error.code == .notFound {
                return Self.invalidLink
            }
            let action = "/v1/unsubscribe/" + Self.escaped(token)
            return Self.page(
                status: .ok, "Unsubscribe from news by email?",
                "You will no longer get Advisor Platform's news by email. Messages about your account keep coming.",
                form: """
                    <form method="post" action="\(action)"><input type="hidden" name="List-Unsubscribe" value="One-Click">\
                    <button type="submit">Unsubscribe</button></form>
                    """)
        }
        router.post("v1/unsubscribe/{token}") { request, context in
            let body = try await request.body.collect(upTo: 4096)
            let form = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            guard form.split(separator: "&").contains("List-Unsubscribe=One-Click") else {
                return Self.page(status: .unprocessableContent, "Nothing was changed", "Send List-Unsubscribe=One-Click to unsubscribe (RFC 8058).")
            }
            do {
                _ = try await bus.call(
                    Notifications.Unsubscribe.self, .init(token: context.parameters.get("token") ?? "", withdraw: true), as: .anonymous)
            } catch let error as ServiceError where error.code == .notFound {
                return Self.invalidLink
            }
            return Self.page(status: .ok, "You are unsubscribed", "You will no longer get Advisor Platform's news by email.")
        }

        let signedIn = router.group(context: AuthenticatedContext.self)
        signedIn.post("v1/staff/campaigns") { request, context in
            let body = try await JSONBody.decode(CampaignBody.self, from: request)
            let campaign = Notifications.CreateCampaign.Request(subject: body.subject, text: body.text, channel: body.channel)
            return JSONBody.relay(try await bus.callReturningJSON(Notifications.CreateCampaign.self, campaign, as: context.caller), status: .accepted)
        }
        signedIn.get("v1/staff/campaigns/{id}") { _, context in
            let id = try RouteParameters.id("id", in: context.parameters)
            return JSONBody.relay(try await bus.callReturningJSON(Notifications.GetCampaign.self, .init(campaignId: id), as: context.caller))
        }
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

    /// The page of a link that is not (or no longer) one.
    static var invalidLink: Response {
        page(status: .notFound, "This unsubscribe link is not valid", "It may have expired. You can change your consents in your privacy center.")
    }

    /// A small HTML page, never cached.
    static func page(status: HTTPResponse.Status, _ title: String, _ text: String, form: String = "") -> Response {
        let html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\
            <title>\(escaped(title))</title></head>
            <body style="font-family: system-ui, sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em; line-height: 1.5">
            <h1 style="font-size: 1.4em">\(escaped(title))</h1><p>\(escaped(text))</p>\(form)</body></html>

            """
        // No page of the gateway may be framed: a consent or unsubscribe button under someone
        // else's overlay would be clicked by people who never meant to (clickjacking).
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Frame-Options")!: "DENY",
                .contentSecurityPolicy: "frame-ancestors 'none'",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }
}
