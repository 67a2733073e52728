import Foundation
import Hummingbird
import Logging
import NIOCore
import PlatformSecurity

/// The sandbox's credential verifier, a provider that checks licenses and certifications with
/// their issuers: `POST /v1/verifications {reference, kind, issuer, number, expires_on}` with
/// `Authorization: Bearer <api key>` answers 202 `{id, status: "pending", reference}`, and the
/// result comes later as a webhook signed as Standard Webhooks v1 says (`verification.completed`,
/// `{id, reference, status: verified | rejected, reason}`), tried again until it is taken. Its
/// register: a number beginning `REJECT` is not in it; anything else is. For people and tests,
/// `GET /v1/sandbox/verifications` lists what was asked.
actor CredentialVerifier {
    struct Settings: Sendable {
        /// What the platform presents (`SANDBOX_VERIFIER_API_KEY`).
        var apiKey: String
        /// Where results are posted (`SANDBOX_VERIFIER_WEBHOOK_URL`; none posted when empty).
        var webhookURL: String
        /// The `whsec_` secret they are signed with (`SANDBOX_VERIFIER_WEBHOOK_SECRET`).
        var webhookSecret: String
        /// How long a check takes (`SANDBOX_VERIFIER_DELAY_MS`).
        var delay: Duration
    }

    struct Verification: Codable, Sendable {
        var id: String
        var reference: String
        var kind: String
        var issuer: String
        var number: String
        var expiresOn: String
        var status: String
        var reason: String?
        var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case id, reference, kind, issuer, number, status, reason
            case expiresOn = "expires_on"
            case createdAt = "created_at"
        }
    }

    let settings: Settings
    private let logger: Logger
    private var verifications: [Verification] = []

    init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    func list() -> [Verification] { verifications }

    /// Takes a request and answers it at once; its result follows by webhook.
    func start(reference: String, kind: String, issuer: String, number: String, expiresOn: String) -> Verification {
        let rejected = number.uppercased().hasPrefix("REJECT")
        let verification = Verification(
            id: "ver_" + SecureRandom.token(bytes: 12), reference: reference, kind: kind, issuer: issuer, number: number,
            expiresOn: expiresOn, status: "pending", reason: nil, createdAt: Date())
        verifications.append(verification)
        if verifications.count > 10_000 { verifications.removeFirst(verifications.count - 10_000) }
        Task { await self.complete(verification.id, status: rejected ? "rejected" : "verified",
                                   reason: rejected ? "not in the issuer's register" : "found in the issuer's register") }
        return verification
    }

    private func complete(_ id: String, status: String, reason: String) async {
        try? await Task.sleep(for: settings.delay)
        guard let index = verifications.firstIndex(where: { $0.id == id }) else { return }
        verifications[index].status = status
        verifications[index].reason = reason
        await deliver(verifications[index])
    }

    /// Posts the result until it is answered 2xx, each attempt signed anew.
    private func deliver(_ verification: Verification) async {
        guard !settings.webhookURL.isEmpty else { return }
        let message: [String: Any] = [
            "type": "verification.completed", "timestamp": ISO8601DateFormatter().string(from: Date()),
            "data": ["id": verification.id, "reference": verification.reference, "status": verification.status, "reason": verification.reason ?? ""],
        ]
        guard let body = try? JSONSerialization.data(withJSONObject: message, options: [.sortedKeys]) else { return }
        let messageId = "msg_" + SecureRandom.token(bytes: 12)
        let secret = settings.webhookSecret
        let taken = await WebhookSender.postUntilTaken(
            body, to: settings.webhookURL, attempts: 12, what: "verification.completed", logger: logger
        ) {
            let timestamp = Int(Date().timeIntervalSince1970)
            return [
                ("webhook-id", messageId), ("webhook-timestamp", "\(timestamp)"),
                ("webhook-signature", StandardWebhookSignature.signature(id: messageId, timestamp: timestamp, body: body, secrets: [secret])),
            ]
        }
        if !taken { logger.warning("verification result given up", metadata: ["verification.id": "\(verification.id)"]) }
    }
}

struct CredentialVerifierRoutes: Sendable {
    let verifier: CredentialVerifier

    private struct Asked: Decodable {
        var reference: String
        var kind: String
        var issuer: String
        var number: String
        var expiresOn: String

        enum CodingKeys: String, CodingKey {
            case reference, kind, issuer, number
            case expiresOn = "expires_on"
        }
    }

    func register(on router: Router<BasicRequestContext>) {
        let settings = verifier.settings
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        router.post("v1/verifications") { request, _ -> Response in
            let key = Data((request.headers[.authorization] ?? "").utf8)
            guard ConstantTime.equals(key, Data("Bearer \(settings.apiKey)".utf8)) else {
                return Self.json(#"{"error": "unauthorized"}"#, status: .unauthorized)
            }
            let body = try await request.body.collect(upTo: 1 << 16)
            guard let asked = try? JSONDecoder().decode(Asked.self, from: Data(body.readableBytesView)),
                [asked.reference, asked.kind, asked.issuer, asked.number, asked.expiresOn].allSatisfy({ !$0.isEmpty && $0.count <= 200 })
            else { return Self.json(#"{"error": "reference, kind, issuer, number and expires_on are required"}"#, status: .unprocessableContent) }
            let started = await verifier.start(
                reference: asked.reference, kind: asked.kind, issuer: asked.issuer, number: asked.number, expiresOn: asked.expiresOn)
            return Self.json(
                String(decoding: try encoder.encode(["id": started.id, "status": started.status, "reference": started.reference]), as: UTF8.self),
                status: .accepted)
        }
        router.get("v1/sandbox/verifications") { _, _ -> Response in
            Self.json(String(decoding: try encoder.encode(["verifications": await verifier.list()]), as: UTF8.self))
        }
    }

    private static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
