import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Models
import NIOCore
import NIOHTTP1
import PlatformSecurity
import ServiceKit

/// The sandbox's SMS provider, speaking Twilio's protocol: `POST /2010-04-01/Accounts/{sid}/Messages.json`
/// (form-encoded, basic auth with the account sid and auth token, JSON answers, Twilio's error
/// codes), delivery reports to the message's `StatusCallback`, and inbound messages posted to the
/// platform's webhook, all signed `X-Twilio-Signature`. Like the real one it stops texting a number
/// that sent STOP (error 21610) until it sends START. For people and tests: `GET /v1/sandbox/sms`,
/// `DELETE /v1/sandbox/sms`, `POST /v1/sandbox/sms/inbound {from, body}` (someone texting the
/// platform), `POST /v1/sandbox/sms/failures {count}` (the next sends answer 500).
actor SMSProvider {
    struct Message: Encodable {
        var sid: String
        var direction: String
        var from: String
        var to: String
        var body: String
        var status: String
        var segments: Int
        var createdAt: Date
    }

    struct Settings: Sendable {
        var accountSid: String
        var authToken: String
        /// The platform's number, which people text.
        var number: String
        /// The platform's inbound webhook; inbound messages are refused (503) when empty.
        var webhookURL: String
    }

    /// The provider's answer to an API request.
    struct Answer: Sendable {
        var status: Int
        var body: Data
    }

    let settings: Settings
    private let logger: Logger
    private var messages: [Message] = []
    private var stopped: Set<String> = []
    private var failNext = 0

    /// At most this many messages are kept (oldest dropped first).
    static let kept = 10_000
    /// Twilio's opt-out and opt-in keywords, which the provider itself honours.
    static let stopWords: Set<String> = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
    static let startWords: Set<String> = ["START", "UNSTOP", "YES"]

    init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// `POST …/Messages.json`.
    func send(form: [String: String], callbackSigner: @escaping @Sendable (String, [String: String]) -> Void) -> Answer {
        if failNext > 0 {
            failNext -= 1
            return Self.error(500, code: 20500, "An internal server error has occurred")
        }
        guard let to = form["To"], SMS.isE164(to) else {
            return Self.error(400, code: 21211, "The 'To' number \(form["To"] ?? "") is not a valid phone number.")
        }
        guard form["From"] == settings.number else {
            return Self.error(400, code: 21606, "The 'From' phone number provided is not a valid message-capable phone number for this account.")
        }
        guard let body = form["Body"], !body.isEmpty else { return Self.error(400, code: 21602, "Message body is required.") }
        guard body.count <= 1600 else { return Self.error(400, code: 21617, "The concatenated message body exceeds the 1600 character limit.") }
        // Twilio's test number that is not a mobile phone.
        guard to != "+15005550009" else { return Self.error(400, code: 21614, "'To' number is not a valid mobile number") }
        guard !stopped.contains(to) else { return Self.error(400, code: 21610, "Attempt to send to unsubscribed recipient") }
        let message = record(direction: "outbound-api", from: settings.number, to: to, body: body)
        if let callback = form["StatusCallback"], !callback.isEmpty {
            callbackSigner(callback, [
                "MessageSid": message.sid, "MessageStatus": "delivered", "AccountSid": settings.accountSid, "To": to,
                "From": settings.number, "ApiVersion": "2010-04-01",
            ])
        }
        return Answer(status: 201, body: Self.json([
            "sid": message.sid, "status": "queued", "to": to, "from": settings.number, "body": body,
            "num_segments": "\(message.segments)", "account_sid": settings.accountSid, "error_code": NSNull(),
        ]))
    }

    /// Someone texts the platform: the provider applies STOP and START itself, then hands the
    /// message on; returns the message and the form to post.
    func receive(from: String, body: String) -> (message: Message, form: [String: String]) {
        let word = body.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        if Self.stopWords.contains(word) { stopped.insert(from) }
        if Self.startWords.contains(word) { stopped.remove(from) }
        let message = record(direction: "inbound", from: from, to: settings.number, body: body)
        return (message, [
            "MessageSid": message.sid, "AccountSid": settings.accountSid, "From": from, "To": settings.number, "Body": body,
            "NumMedia": "0", "NumSegments": "\(message.segments)", "ApiVersion": "2010-04-01",
        ])
    }

    /// The platform's TwiML reply to an inbound message, sent on as a message of its own.
    func reply(to: String, body: String) -> Message {
        record(direction: "outbound-reply", from: settings.number, to: to, body: body)
    }

    func list(to number: String?) -> [Message] {
        guard let number else { return messages }
        return messages.filter { $0.to == number || $0.from == number }
    }

    func clear() { messages.removeAll() }

    func fail(next count: Int) { failNext = count }

    private func record(direction: String, from: String, to: String, body: String) -> Message {
        let message = Message(
            sid: "SM" + Hex.encode(SecureRandom.bytes(16)), direction: direction, from: from, to: to, body: body,
            status: direction == "inbound" ? "received" : "delivered", segments: SMS.segments(of: body), createdAt: Date())
        messages.append(message)
        if messages.count > Self.kept { messages.removeFirst(messages.count - Self.kept) }
        logger.debug("sandbox sms", metadata: ["sms.direction": "\(direction)", "sms.sid": "\(message.sid)"])
        return message
    }

    static func error(_ status: Int, code: Int, _ message: String) -> Answer {
        Answer(status: status, body: json(["code": code, "message": message, "status": status, "more_info": "https://www.twilio.com/docs/errors/\(code)"]))
    }

    private static func json(_ fields: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data()
    }
}

/// The SMS provider's HTTP side: its API, and the sandbox's inbox routes.
struct SMSRoutes: Sendable {
    let provider: SMSProvider
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        let settings = provider.settings
        router.post("2010-04-01/Accounts/:account/Messages.json") { request, context -> Response in
            guard context.parameters.get("account") == settings.accountSid, authorized(request) else {
                return Self.response(SMSProvider.error(401, code: 20003, "Authenticate"))
            }
            let body = Data(try await request.body.collect(upTo: 1 << 16).readableBytesView)
            guard let form = FormEncoding.decode(body) else {
                return Self.response(SMSProvider.error(400, code: 21100, "Invalid form body"))
            }
            let signer = deliverSigned
            return Self.response(await provider.send(form: form) { url, fields in
                Task { _ = await signer(url, fields) }
            })
        }
        router.get("v1/sandbox/sms") { request, _ -> Response in
            let to = request.uri.queryParameters["to"].map(String.init)
            return try Self.json(["messages": await provider.list(to: to)])
        }
        router.delete("v1/sandbox/sms") { _, _ -> Response in
            await provider.clear()
            return Response(status: .noContent)
        }
        router.post("v1/sandbox/sms/failures") { request, _ -> Response in
            struct Failures: Decodable { var count: Int }
            let body = try await request.body.collect(upTo: 4096)
            guard let failures = try? JSONDecoder().decode(Failures.self, from: Data(body.readableBytesView)),
                (0...1000).contains(failures.count)
            else { return Response(status: .badRequest) }
            await provider.fail(next: failures.count)
            return Response(status: .noContent)
        }
        router.post("v1/sandbox/sms/inbound") { request, _ -> Response in
            struct Inbound: Decodable {
                var from: String
                var body: String
            }
            let data = try await request.body.collect(upTo: 1 << 16)
            guard let inbound = try? JSONDecoder().decode(Inbound.self, from: Data(data.readableBytesView)), SMS.isE164(inbound.from),
                !inbound.body.isEmpty, inbound.body.count <= 1600
            else { return try Self.json(["error": "send {from: an E.164 number, body: 1 to 1600 characters}"], status: .badRequest) }
            guard !settings.webhookURL.isEmpty else {
                return try Self.json(["error": "no webhook URL is configured (SANDBOX_SMS_WEBHOOK_URL)"], status: .serviceUnavailable)
            }
            let (message, form) = await provider.receive(from: inbound.from, body: inbound.body)
            let (status, answer) = await deliverSigned(to: settings.webhookURL, form)
            var reply: String?
            if status == 200, let text = Self.twimlMessage(answer) {
                reply = await provider.reply(to: inbound.from, body: text).body
            }
            struct Delivered: Encodable {
                var sid: String
                var webhookStatus: Int
                var reply: String?
            }
            return try Self.json(Delivered(sid: message.sid, webhookStatus: status, reply: reply))
        }
    }

    /// Posts `form` to `url`, signed as the provider signs; the status (0 when unreachable) and body.
    @Sendable func deliverSigned(to url: String, _ form: [String: String]) async -> (Int, String) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(
            name: "X-Twilio-Signature",
            value: SMSWebhookSignature.header(url: url, parameters: form, authToken: provider.settings.authToken))
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form.sorted { $0.key < $1.key })))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 16)
            return (Int(response.status.code), String(buffer: body))
        } catch {
            logger.info("sms webhook not delivered", metadata: ["error": "\(error)"])
            return (0, "")
        }
    }

    private func authorized(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6)))
        else { return false }
        let expected = "\(provider.settings.accountSid):\(provider.settings.authToken)"
        return ConstantTime.equals(decoded, Data(expected.utf8))
    }

    /// The text of `<Response><Message>…</Message></Response>`, XML entities decoded.
    static func twimlMessage(_ twiml: String) -> String? {
        guard let open = twiml.range(of: "<Message>"), let close = twiml.range(of: "</Message>", range: open.upperBound..<twiml.endIndex)
        else { return nil }
        return String(twiml[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    private static func response(_ answer: SMSProvider.Answer) -> Response {
        Response(
            status: HTTPResponse.Status(code: answer.status), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    private static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
