import AsyncHTTPClient
import Foundation
import Logging
import Models
import NIOCore
import NIOHTTP1
import ServiceKit

/// The payment processor's HTTP API as the platform uses it (Stripe's shape: form-encoded
/// requests, the secret key as a bearer token, `Idempotency-Key` on charges, JSON answers).
/// Only the integration service holds the secret and speaks this protocol.
struct ProcessorClient: Sendable {
    let baseURL: String
    let secretKey: String
    /// How long one request may take before its outcome counts as unknown.
    let timeout: TimeAmount
    let logger: Logger

    /// A processor error's body: `{"error": {type, code, decline_code, message, payment_intent}}`.
    private struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var type: String?
            var code: String?
            var declineCode: String?
            var paymentIntent: Intent?
        }
        var error: Detail
    }

    private struct Intent: Decodable {
        var id: String
        var status: String
    }

    private struct PaymentMethod: Decodable {
        struct CardFields: Decodable {
            var brand: String
            var last4: String
            var expMonth: Int
            var expYear: Int
            var fingerprint: String
        }
        var id: String
        var card: CardFields
    }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// `POST /v1/payment_methods`: the reusable card behind a one-use token.
    func saveCard(token: String) async throws -> Payments.Card {
        let (status, body) = try await post("/v1/payment_methods", form: [("type", "card"), ("card[token]", token)])
        if status == 200, let method = try? Self.decoder.decode(PaymentMethod.self, from: body) {
            return Payments.Card(
                processorId: method.id, brand: method.card.brand, last4: method.card.last4, expMonth: method.card.expMonth,
                expYear: method.card.expYear, fingerprint: method.card.fingerprint)
        }
        if status == 400, let failure = try? Self.decoder.decode(ErrorBody.self, from: body) {
            switch failure.error.code {
            case "resource_missing": throw ServiceError(.cardTokenNotFound, "the payment processor does not know this card token")
            case "token_already_used": throw ServiceError(.cardTokenUsed, "this card token was used already: tokenize the card again")
            default: break
            }
        }
        logger.error("payment processor refused to save a card", metadata: ["http.status": "\(status)"])
        throw ServiceError(.unavailable, "the payment processor could not save the card; try again")
    }

    /// `POST /v1/payment_intents` with `confirm=true`: charges once per idempotency key. Any answer
    /// that does not say succeeded or declined leaves the outcome unknown: never guessed.
    func charge(_ request: Payments.Charge.Request) async -> Payments.Charge.Response {
        let form = [
            ("amount", "\(request.amountCents)"), ("currency", "usd"), ("payment_method", request.card), ("confirm", "true"),
            ("metadata[reference]", request.reference),
        ]
        let status: Int
        let body: Data
        do {
            (status, body) = try await post("/v1/payment_intents", form: form, idempotencyKey: request.idempotencyKey)
        } catch {
            logger.warning("payment processor did not answer a charge", metadata: ["error": "\(error)"])
            return .init(status: .unknown)
        }
        if status == 200, let intent = try? Self.decoder.decode(Intent.self, from: body) {
            return .init(status: intent.status == "succeeded" ? .succeeded : .unknown, paymentId: intent.id)
        }
        let failure = try? Self.decoder.decode(ErrorBody.self, from: body)
        if let failure, failure.error.type == "card_error" {
            return .init(
                status: .declined, paymentId: failure.error.paymentIntent?.id,
                declineCode: failure.error.declineCode ?? failure.error.code ?? "card_declined")
        }
        if status == 400, failure?.error.code == "resource_missing" {
            // The card is gone at the processor: nothing was charged.
            return .init(status: .declined, declineCode: "card_unavailable")
        }
        logger.error("payment processor answered a charge unexpectedly", metadata: ["http.status": "\(status)"])
        return .init(status: .unknown)
    }

    /// `POST /v1/payouts`: pays `destination` once per idempotency key; the webhook says paid or failed.
    func payout(_ request: Payments.Payout.Request) async -> Payments.Payout.Response {
        struct Payout: Decodable {
            var id: String
        }
        let form = [
            ("amount", "\(request.amountCents)"), ("currency", "usd"), ("destination", request.destination),
            ("metadata[reference]", request.reference),
        ]
        do {
            let (status, body) = try await post("/v1/payouts", form: form, idempotencyKey: request.idempotencyKey)
            if status == 200, let payout = try? Self.decoder.decode(Payout.self, from: body) {
                return .init(accepted: true, payoutId: payout.id)
            }
            logger.error("payment processor refused a payout", metadata: ["http.status": "\(status)"])
        } catch {
            logger.warning("payment processor did not answer a payout", metadata: ["error": "\(error)"])
        }
        return .init(accepted: false)
    }

    private func post(_ path: String, form: [(String, String)], idempotencyKey: String? = nil) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(secretKey)")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), Data(body.readableBytesView))
    }
}
