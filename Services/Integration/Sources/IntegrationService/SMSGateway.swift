import AsyncHTTPClient
import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Models
import NIOCore
import NIOHTTP1
import PlatformSecurity
import ServiceKit

/// The SMS provider as the platform uses it (Twilio's shape): `sms.send` on the bus becomes a
/// form-encoded `Messages` request with basic auth and a status callback; the provider's
/// inbound messages and delivery reports come back to `POST /webhooks/sms` and
/// `POST /webhooks/sms/status`, whose `X-Twilio-Signature` is checked before anything else is
/// read, and are handed to notifications. Only this service holds the auth token.
struct SMSGateway: Sendable {
    struct Settings: Sendable {
        var baseURL: String
        var accountSid: String
        var authToken: String
        /// The platform's number, which sends every text.
        var from: String
        /// This service's address as the provider reaches it: what it signs, and where reports go.
        var publicURL: String
        var timeout: TimeAmount
    }

    let settings: Settings
    let bus: BusClient
    let logger: Logger

    private struct Accepted: Decodable { var sid: String }
    private struct Refusal: Decodable { var code: Int? }

    /// Twilio error codes that mean the number will never be reached as it is; anything else
    /// refused is the platform's own fault (a bad request), and is a fault here too.
    static let unreachable: Set<Int> = [21211, 21214, 21408, 21610, 21612, 21614]

    /// `sms.send`.
    func send(_ request: SMS.Send.Request) async throws -> SMS.Send.Response {
        guard SMS.isE164(request.to) else { throw ServiceError(.validationFailed, "the number is not E.164", fieldErrors: [.init(field: "to", code: "invalid")]) }
        guard !request.body.isEmpty, request.body.count <= 1600 else {
            throw ServiceError(.validationFailed, "a text is 1 to 1600 characters", fieldErrors: [.init(field: "body", code: "length")])
        }
        var http = HTTPClientRequest(url: "\(settings.baseURL)/2010-04-01/Accounts/\(settings.accountSid)/Messages.json")
        http.method = .POST
        http.headers.add(name: "Authorization", value: "Basic " + Data("\(settings.accountSid):\(settings.authToken)".utf8).base64EncodedString())
        http.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        http.body = .bytes(ByteBuffer(string: FormEncoding.encode([
            ("To", request.to), ("From", settings.from), ("Body", request.body), ("StatusCallback", "\(settings.publicURL)/webhooks/sms/status"),
        ])))
        let status: Int
        let body: Data
        do {
            let response = try await HTTPClient.shared.execute(http, timeout: settings.timeout)
            status = Int(response.status.code)
            body = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        } catch {
            logger.warning("sms provider did not answer", metadata: ["error": "\(error)"])
            throw ServiceError(.unavailable, "the SMS provider did not answer; try again later")
        }
        if status == 201 || status == 200, let accepted = try? JSONDecoder().decode(Accepted.self, from: body) {
            logger.info("sms accepted", metadata: ["sms.sid": "\(accepted.sid)", "sms.segments": "\(SMS.segments(of: request.body))"])
            return .init(providerId: accepted.sid)
        }
        let code = (try? JSONDecoder().decode(Refusal.self, from: body))?.code
        if status == 400, let code, Self.unreachable.contains(code) {
            logger.info("sms refused by the provider", metadata: ["sms.error": "\(code)"])
            throw ServiceError(.smsRefused, "this number cannot receive texts from us (provider error \(code))")
        }
        if status >= 500 || status == 429 {
            logger.warning("sms provider failing", metadata: ["http.status": "\(status)"])
            throw ServiceError(.unavailable, "the SMS provider is failing; try again later")
        }
        // Our request, or our account with the provider, is at fault: logged as an error for
        // operators; the caller is told to try later, as nothing was sent.
        logger.error("sms provider refused a request", metadata: ["http.status": "\(status)", "sms.error": "\(code.map(String.init) ?? "-")"])
        throw ServiceError(.unavailable, "the SMS provider refused the request; try again later")
    }

    func register(on router: Router<IntegrationRequestContext>) {
        router.post("webhooks/sms") { request, _ -> Response in
            guard let form = try await verified(request, path: "/webhooks/sms") else { return Self.refused }
            guard let from = form["From"], SMS.isE164(from), let body = form["Body"], let sid = form["MessageSid"], !sid.isEmpty else {
                return Self.text(.badRequest, "From, Body and MessageSid are required")
            }
            do {
                let answer = try await bus.call(SMS.Inbound.self, .init(from: from, body: String(body.prefix(1600)), providerId: sid), as: .system)
                logger.info("sms received", metadata: ["sms.sid": "\(sid)", "sms.replied": "\(answer.reply != nil)"])
                return Self.twiml(answer.reply)
            } catch {
                // Twilio does not post an inbound message again by default: a STOP lost here keeps
                // the provider's own stop (it texts the number no more) but not the consent record.
                logger.error("sms inbound not applied", metadata: ["error": "\(error)"])
                return Self.text(.serviceUnavailable, "try again later")
            }
        }
        router.post("webhooks/sms/status") { request, _ -> Response in
            guard let form = try await verified(request, path: "/webhooks/sms/status") else { return Self.refused }
            guard let sid = form["MessageSid"], let status = form["MessageStatus"] else {
                return Self.text(.badRequest, "MessageSid and MessageStatus are required")
            }
            do {
                _ = try await bus.call(SMS.Status.self, .init(providerId: sid, status: status, errorCode: form["ErrorCode"]), as: .system)
                return Self.text(.ok, "ok")
            } catch {
                logger.warning("sms status not applied yet", metadata: ["error": "\(error)"])
                return Self.text(.serviceUnavailable, "try again later")
            }
        }
    }

    /// The form of a request the provider signed for this URL; nil (and logged) otherwise.
    private func verified(_ request: Request, path: String) async throws -> [String: String]? {
        let body = Data(try await request.body.collect(upTo: HTTPLimits.maxBodyBytes).readableBytesView)
        guard let signature = request.headers[HTTPField.Name("X-Twilio-Signature")!], let form = FormEncoding.decode(body),
            SMSWebhookSignature.isValid(signature, url: settings.publicURL + path, parameters: form, authToken: settings.authToken)
        else {
            logger.warning("sms webhook refused: bad or missing signature", metadata: ["http.path": "\(path)"])
            return nil
        }
        return form
    }

    private static let refused = text(.forbidden, "invalid signature")

    private static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    /// TwiML: the reply to text back, or an empty response (no reply).
    static func twiml(_ reply: String?) -> Response {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"
        if let reply {
            let escaped = reply.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
            xml += "<Message>\(escaped)</Message>"
        }
        xml += "</Response>"
        return Response(status: .ok, headers: [.contentType: "text/xml"], body: .init(byteBuffer: ByteBuffer(string: xml)))
    }
}
