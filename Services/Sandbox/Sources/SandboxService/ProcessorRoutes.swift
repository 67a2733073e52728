import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PlatformSecurity
import ServiceKit

/// The sandbox processor's HTTP protocol, shaped like Stripe's: form-encoded requests with the
/// secret key as a bearer token and an `Idempotency-Key` on payment intents, JSON answers with
/// `{"error": {type, code, message}}` on failure, signed webhooks. Card tokenization takes JSON
/// from browsers (any origin, as a processor's publishable endpoint does) and needs no secret.
struct ProcessorRoutes: Sendable {
    let processor: Processor
    let webhooks: WebhookSender
    let secretKey: String
    let disputeDelay: Duration
    /// How long a payout takes to arrive (its webhook).
    let payoutDelay: Duration

    func register(on router: Router<BasicRequestContext>) {
        router.on("v1/tokens", method: .options) { _, _ in
            Response(status: .noContent, headers: Self.cors)
        }
        router.post("v1/tokens") { request, _ -> Response in
            struct CardForm: Decodable {
                var number: String
                var expMonth: Int
                var expYear: Int
                var cvc: String
            }
            let data = try await Self.body(of: request)
            guard let form = try? JSONDecoder().decode(CardForm.self, from: data) else {
                return Self.response(Processor.error(400, code: "parameter_missing", "send number, expMonth, expYear and cvc as JSON"), cors: true)
            }
            let answer = await processor.tokenize(number: form.number, expMonth: form.expMonth, expYear: form.expYear, cvc: form.cvc)
            return Self.response(answer, cors: true)
        }
        router.post("v1/payment_methods") { request, _ -> Response in
            guard authorized(request) else { return Self.response(Self.unauthorized) }
            let form = Self.form(try await Self.body(of: request))
            guard form["type"] == "card", let token = form["card[token]"] else {
                return Self.response(Processor.error(400, code: "parameter_missing", "send type=card and card[token]"))
            }
            return Self.response(await processor.savedCard(fromToken: token))
        }
        router.post("v1/payment_intents") { request, _ -> Response in
            guard authorized(request) else { return Self.response(Self.unauthorized) }
            let form = Self.form(try await Self.body(of: request))
            let key = request.headers[HTTPField.Name("Idempotency-Key")!]
            let outcome = await processor.createIntent(idempotencyKey: key, form: form)
            for event in outcome.events { webhooks.send(event) }
            if let dispute = outcome.disputeLater { webhooks.send(dispute, after: disputeDelay) }
            if outcome.answerDelay > 0 { try? await Task.sleep(for: .milliseconds(Int(outcome.answerDelay * 1000))) }
            return Self.response(outcome.answer)
        }
        router.post("v1/payouts") { request, _ -> Response in
            guard authorized(request) else { return Self.response(Self.unauthorized) }
            let form = Self.form(try await Self.body(of: request))
            let created = await processor.createPayout(idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!], form: form)
            if let outcome = created.outcome { webhooks.send(outcome, after: payoutDelay) }
            return Self.response(created.answer)
        }
        router.post("v1/refunds") { request, _ -> Response in
            guard authorized(request) else { return Self.response(Self.unauthorized) }
            let form = Self.form(try await Self.body(of: request))
            let outcome = await processor.createRefund(idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!], form: form)
            if let created = outcome.created { webhooks.send(created) }
            return Self.response(outcome.answer)
        }
        router.get("v1/payment_intents/:id") { request, context -> Response in
            guard authorized(request) else { return Self.response(Self.unauthorized) }
            return Self.response(await processor.intent(context.parameters.get("id") ?? ""))
        }

        // Test controls: the faults real processors have, on demand.
        router.post("sandbox/faults") { request, _ -> Response in
            guard let faults = try? JSONDecoder().decode(Processor.Faults.self, from: try await Self.body(of: request)) else {
                return Self.response(Processor.error(400, code: "parameter_invalid", "send the faults as JSON"))
            }
            await processor.setFaults(faults)
            return Self.response(Processor.json(["ok": true]))
        }
        router.get("sandbox/events") { _, _ -> Response in
            Self.response(Processor.json(await processor.sent))
        }
        router.post("sandbox/events/:id/resend") { _, context -> Response in
            guard let event = await processor.event(context.parameters.get("id") ?? "") else {
                return Self.response(Processor.error(404, code: "resource_missing", "No such event"))
            }
            await webhooks.deliver(event)
            return Self.response(Processor.json(["ok": true]))
        }
    }

    private func authorized(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
        return ConstantTime.equals(Data(header.dropFirst(7).utf8), Data(secretKey.utf8))
    }

    static let unauthorized = Processor.error(401, code: "api_key_invalid", "Invalid API Key provided.")

    static let cors: HTTPFields = [
        .accessControlAllowOrigin: "*", .accessControlAllowMethods: "POST", .accessControlAllowHeaders: "Content-Type",
    ]

    static func body(of request: Request) async throws -> Data {
        Data(try await request.body.collect(upTo: 1 << 20).readableBytesView)
    }

    static func response(_ answer: Processor.Answer, cors: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if cors { headers.append(contentsOf: Self.cors) }
        return Response(
            status: HTTPResponse.Status(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// The processor's form-encoded request body; a malformed one reads as empty.
    static func form(_ data: Data) -> [String: String] {
        FormEncoding.decode(data) ?? [:]
    }
}
