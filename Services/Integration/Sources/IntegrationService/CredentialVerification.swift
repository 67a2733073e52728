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
import Store

/// Advisors' credentials checked by the verification provider: each submission the directory
/// announces is queued here, sent to the provider (`POST /v1/verifications`, bearer API key,
/// tried again with a growing wait while the provider fails, for about a day), and the provider's signed result
/// (Standard Webhooks, `POST /webhooks/verification`) is recorded in the directory. Staff may still
/// decide a pending credential first; a result for one already decided changes nothing.
struct CredentialVerification: Sendable {
    struct Settings: Sendable {
        /// The provider's API (`VERIFIER_BASE_URL`; the sandbox on a local run).
        var baseURL: String
        /// What the platform presents (`VERIFIER_API_KEY`); without it no credential is sent and staff decide.
        var apiKey: String
        /// The `whsec_` secret the provider signs results with (`VERIFIER_WEBHOOK_SECRET`).
        var webhookSecret: String
        var timeout: TimeAmount
    }

    let settings: Settings
    let database: Database
    let bus: BusClient
    let logger: Logger

    /// Tries before a request is given up (staff decide it then): waits doubling from 5 s to at
    /// most 4 hours, about a day in all.
    static let maxAttempts = 16

    /// The wait after `attempts` failed tries.
    static func wait(after attempts: Int) -> Int {
        min(4 * 3600, 5 << min(attempts, 12))
    }

    /// Queues each submitted credential (in the transaction that applies the event).
    func subscriptions() -> [EventSubscription] {
        [
            EventSubscription(producer: .directory).on(Directory.CredentialSubmitted.self) { event, _, connection in
                try connection.execute(
                    "INSERT INTO credential_verifications (credential_id) VALUES ($1) ON CONFLICT DO NOTHING", event.credentialId)
            }
        ]
    }

    /// Sends what is due, a few at a time; how many it settled.
    func sendDue() async throws -> Int {
        let due = try await database.withConnection { connection in
            try connection.query(
                """
                UPDATE credential_verifications SET lease_until = now() + interval '5 minutes', attempts = attempts + 1
                WHERE credential_id IN (
                    SELECT credential_id FROM credential_verifications
                    WHERE status = 'queued' AND due_at <= now() AND (lease_until IS NULL OR lease_until < now())
                    ORDER BY due_at LIMIT 8 FOR UPDATE SKIP LOCKED)
                RETURNING credential_id, attempts
                """
            ).map { (try $0.decode("credential_id", as: UUID.self), try $0.decode("attempts", as: Int.self)) }
        }
        for (credentialId, attempts) in due {
            let outcome = await send(credentialId)
            try await database.withConnection { connection in
                // Only a row still queued: the provider's result may have come in before its answer.
                switch outcome {
                case .sent(let providerId):
                    try connection.execute(
                        """
                        UPDATE credential_verifications SET status = 'sent', provider_id = $2, lease_until = NULL
                        WHERE credential_id = $1 AND status = 'queued'
                        """, credentialId, providerId)
                case .nothingToSend:
                    try connection.execute(
                        "UPDATE credential_verifications SET status = 'done', lease_until = NULL WHERE credential_id = $1 AND status = 'queued'",
                        credentialId)
                case .retry where attempts < Self.maxAttempts:
                    try connection.execute(
                        """
                        UPDATE credential_verifications SET due_at = now() + make_interval(secs => $2), lease_until = NULL
                        WHERE credential_id = $1 AND status = 'queued'
                        """, credentialId, Self.wait(after: attempts))
                case .retry, .refused:
                    try connection.execute(
                        "UPDATE credential_verifications SET status = 'failed', lease_until = NULL WHERE credential_id = $1 AND status = 'queued'",
                        credentialId)
                    logger.warning("a credential could not be sent to the verifier; staff decide it", metadata: ["credential.id": "\(credentialId)"])
                }
            }
        }
        return due.count
    }

    private enum Outcome {
        case sent(String)
        /// Withdrawn, or decided by staff meanwhile.
        case nothingToSend
        case retry
        /// The provider refused the request itself (4xx): trying again would not change that.
        case refused
    }

    private struct Started: Decodable {
        var id: String
    }

    private func send(_ credentialId: UUID) async -> Outcome {
        let credential: Directory.Credential
        do {
            credential = try await bus.call(Directory.CredentialForVerification.self, .init(credentialId: credentialId), as: .system)
        } catch let error as ServiceError where error.code == .notFound {
            return .nothingToSend
        } catch {
            return .retry
        }
        guard credential.status == "pending" else { return .nothingToSend }
        let body: [String: String] = [
            "reference": credentialId.uuidString.lowercased(), "kind": credential.kind, "issuer": credential.issuer,
            "number": credential.number, "expires_on": credential.expiresOn,
        ]
        var request = HTTPClientRequest(url: settings.baseURL + "/v1/verifications")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(settings.apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: "credential-\(credentialId.uuidString.lowercased())")
        request.body = .bytes(ByteBuffer(bytes: (try? JSONEncoder().encode(body)) ?? Data()))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: settings.timeout)
            let answer = Data(try await response.body.collect(upTo: 1 << 16).readableBytesView)
            guard (200..<300).contains(response.status.code), let started = try? JSONDecoder().decode(Started.self, from: answer) else {
                logger.warning("the verifier refused a request", metadata: ["http.status": "\(response.status.code)"])
                let code = response.status.code
                return (400..<500).contains(code) && code != 408 && code != 429 ? .refused : .retry
            }
            logger.info("credential sent to the verifier", metadata: ["credential.id": "\(credentialId)", "verification.id": "\(started.id)"])
            return .sent(started.id)
        } catch {
            logger.warning("the verifier could not be reached", metadata: ["error": "\(error)"])
            return .retry
        }
    }

    private struct Result: Decodable {
        struct Completed: Decodable {
            var reference: UUID
            var status: String
        }
        var type: String
        var data: Completed
    }

    /// `POST /webhooks/verification`: the signature first (400 without a valid one), then the result.
    func register(on router: Router<IntegrationRequestContext>) {
        router.post("webhooks/verification") { request, _ -> Response in
            let body = Data(try await request.body.collect(upTo: 1 << 16).readableBytesView)
            guard
                StandardWebhookSignature.isValid(
                    id: request.headers[HTTPField.Name("webhook-id")!] ?? "", timestamp: request.headers[HTTPField.Name("webhook-timestamp")!] ?? "",
                    signatures: request.headers[HTTPField.Name("webhook-signature")!] ?? "", body: body, secret: settings.webhookSecret)
            else { throw ServiceError(.badRequest, "The webhook's signature is not valid.") }
            guard let result = try? JSONDecoder().decode(Result.self, from: body), result.type == "verification.completed",
                ["verified", "rejected"].contains(result.data.status)
            else { throw ServiceError(.validationFailed, "Not a verification result this receiver knows.") }
            do {
                _ = try await bus.call(
                    Directory.RecordVerification.self, .init(credentialId: result.data.reference, verified: result.data.status == "verified"),
                    as: .system)
            } catch let error as ServiceError where error.code == .conflict || error.code == .notFound {
                // Decided by staff first, or withdrawn: the result changes nothing, and is taken.
            }
            try await database.withConnection { connection in
                try connection.execute(
                    "UPDATE credential_verifications SET status = 'done' WHERE credential_id = $1", result.data.reference)
            }
            logger.info("verification result recorded", metadata: ["credential.id": "\(result.data.reference)", "verification.status": "\(result.data.status)"])
            return Response(status: .noContent)
        }
    }
}
