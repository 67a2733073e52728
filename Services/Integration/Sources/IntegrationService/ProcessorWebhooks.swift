import Bus
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Models
import NIOCore
import PlatformSecurity
import ServiceKit

/// The payment processor's webhooks, received: the signature is checked before anything else is
/// read (400 otherwise, and nothing happens), then the event is handed to billing, which applies
/// each one once whatever the order. Billing out of reach answers 503, so the processor delivers
/// again later; events the platform does not use are acknowledged and dropped.
struct ProcessorWebhooks: Sendable {
    let secret: String
    let tolerance: TimeInterval
    let bus: BusClient
    let logger: Logger

    /// The parts of an event the platform reads.
    private struct Event: Decodable {
        struct Object: Decodable {
            var id: String
            var amount: Int?
            var metadata: [String: String]?
            var lastPaymentError: PaymentError?
            var paymentIntent: String?
            var status: String?
        }
        struct PaymentError: Decodable {
            var code: String?
            var declineCode: String?
        }
        struct Payload: Decodable {
            var object: Object
        }
        var id: String
        var type: String
        var data: Payload
    }

    func register(on router: Router<IntegrationRequestContext>) {
        router.post("webhooks/processor") { request, _ -> Response in
            let body = Data(try await request.body.collect(upTo: HTTPLimits.maxBodyBytes).readableBytesView)
            guard let signature = request.headers[HTTPField.Name("Stripe-Signature")!],
                WebhookSignature.isValid(signature, body: body, secret: secret, tolerance: tolerance)
            else {
                logger.warning("processor webhook refused: bad or missing signature")
                return Self.answer(.badRequest, "invalid signature")
            }
            guard let event = try? ProcessorClient.decoder.decode(Event.self, from: body) else {
                logger.error("processor webhook signed but unreadable")
                return Self.answer(.badRequest, "unreadable event")
            }
            guard let update = Self.update(from: event) else { return Self.answer(.ok, "ignored") }
            do {
                _ = try await bus.call(Billing.PaymentUpdate.self, update, as: .system)
                logger.info("processor webhook applied", metadata: ["event.type": "\(event.type)", "event.id": "\(event.id)"])
                return Self.answer(.ok, "ok")
            } catch {
                logger.warning("processor webhook not applied yet", metadata: ["event.type": "\(event.type)", "error": "\(error)"])
                return Self.answer(.serviceUnavailable, "try again later")
            }
        }
    }

    private static func update(from event: Event) -> Billing.PaymentUpdate.Request? {
        let object = event.data.object
        switch event.type {
        case "payment_intent.succeeded":
            return .init(kind: .succeeded, reference: object.metadata?["reference"], paymentId: object.id, amountCents: object.amount ?? 0)
        case "payment_intent.payment_failed":
            return .init(
                kind: .failed, reference: object.metadata?["reference"], paymentId: object.id, amountCents: object.amount ?? 0,
                declineCode: object.lastPaymentError?.declineCode ?? object.lastPaymentError?.code ?? "card_declined")
        case "payout.paid", "payout.failed":
            return .init(
                kind: event.type == "payout.paid" ? .payoutPaid : .payoutFailed, reference: object.metadata?["reference"],
                paymentId: object.id, amountCents: object.amount ?? 0)
        case "charge.dispute.created":
            guard let payment = object.paymentIntent else { return nil }
            return .init(kind: .disputed, reference: nil, paymentId: payment, amountCents: object.amount ?? 0, disputeId: object.id)
        case "refund.created", "refund.updated":
            // A refund counts once it has succeeded; one still pending is told again when it does.
            guard let payment = object.paymentIntent, object.status == "succeeded" else { return nil }
            return .init(kind: .refunded, reference: nil, paymentId: payment, amountCents: object.amount ?? 0, refundId: object.id)
        default:
            return nil
        }
    }

    private static func answer(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}
