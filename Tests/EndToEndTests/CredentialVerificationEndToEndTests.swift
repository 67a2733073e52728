import Foundation
import Models
import PlatformSecurity
import TestSupport
import Testing

/// Advisors' credentials checked by the verification provider (the sandbox's), through the real
/// directory, integration and sandbox: sent when submitted, decided by the provider's signed result.
@Suite("Credential verification end to end", .serialized, .timeLimit(.minutes(3)))
struct CredentialVerificationEndToEndTests {
    @Test("a submitted credential is verified or rejected by the provider's signed webhook; a forged or late result changes nothing")
    func providerDecides() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let payments = try #require(platform.payments)
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            func submit(_ number: String) async throws -> String {
                let made = try await platform.request(
                    "POST", "/v1/advisors/me/credentials", token: advisor.token,
                    json: ["kind": "license", "issuer": "State Board of Tarot", "number": number, "expiresOn": "2030-12-31"])
                #expect(made.status == 201 && made.object["status"] as? String == "pending", "\(made.text)")
                return try #require(made.object["id"] as? String)
            }
            let good = try await submit("LIC-2041")
            let bad = try await submit("REJECT-17")
            func statuses() async throws -> [String: String] {
                let mine = try await platform.request("GET", "/v1/advisors/me/credentials", token: advisor.token)
                let list = (try? JSONSerialization.jsonObject(with: mine.answer.body)) as? [[String: Any]] ?? []
                return Dictionary(uniqueKeysWithValues: list.compactMap { item in
                    (item["id"] as? String).map { ($0.lowercased(), item["status"] as? String ?? "") }
                })
            }
            try await eventually("the provider's results are recorded", timeout: .seconds(30)) {
                let now = try await statuses()
                return now[good.lowercased()] == "verified" && now[bad.lowercased()] == "rejected"
            }
            let profile = try await platform.request("GET", "/v1/advisors/\(advisor.id)")
            let shown = profile.object["credentials"] as? [[String: Any]] ?? []
            #expect(shown.count == 1 && shown.first?["kind"] as? String == "license", "only the verified one shows: \(profile.text)")
            let asked = try #require(await HTTP.request("GET", payments.sandbox + "/v1/sandbox/verifications", body: nil))
            let verifications = ((try? JSONSerialization.jsonObject(with: asked.body)) as? [String: Any])?["verifications"] as? [[String: Any]]
            #expect(Set(verifications?.compactMap { $0["reference"] as? String } ?? []) == [good.lowercased(), bad.lowercased()])

            // A result not signed with the verifier's secret is refused; a late one for a decided credential changes nothing.
            func post(_ body: Data, secret: String) async -> Int? {
                let id = "msg_e2e_\(UUID().uuidString)"
                let timestamp = Int(Date().timeIntervalSince1970)
                let signature = StandardWebhookSignature.signature(id: id, timestamp: timestamp, body: body, secrets: [secret])
                return await HTTP.request(
                    "POST", payments.integration + "/webhooks/verification",
                    headers: ["Content-Type": "application/json", "webhook-id": id, "webhook-timestamp": "\(timestamp)", "webhook-signature": signature],
                    body: body)?.status
            }
            let overturn = Data(
                #"{"type": "verification.completed", "timestamp": "2026-12-06T00:00:00Z", "data": {"id": "ver_x", "reference": "\#(bad.lowercased())", "status": "verified", "reason": ""}}"#
                    .utf8)
            #expect(await post(overturn, secret: StandardWebhookSignature.newSecret()) == 400, "a forged result")
            #expect(await post(overturn, secret: AccountsPlatform.Payments.verifierSecret) == 204, "taken, but too late")
            #expect(try await statuses()[bad.lowercased()] == "rejected")
        }
    }
}
