import Foundation
import Logging
import Models
import Store
import TestSupport
import Testing

/// The notices other services' events bring, through the real gateway, billing, directory,
/// accounts, notifications, integration and the sandbox's processor and mail server
/// (docs/api.md "Notifications").
@Suite(.serialized, .timeLimit(.minutes(4)))
struct NoticesEndToEndTests {
    /// The kinds in a person's inbox.
    static func kinds(_ platform: AccountsPlatform, _ token: String) async throws -> Set<String> {
        Set(try await platform.request("GET", "/v1/me/notifications?limit=100", token: token).items.compactMap { $0["kind"] as? String })
    }

    /// The subjects of the email the sandbox holds for `address`.
    static func subjects(_ platform: AccountsPlatform, _ address: String) async throws -> [String] {
        try await EmailEndToEndTests.inbox(platform, address).compactMap { $0["subject"] as? String }
    }

    @Test("a top-up receipt, a low balance, a refund decided, a review and a payout each reach their person in the app and by email; a new policy reaches everyone")
    func moneyReviewsAndPolicy() async throws {
        let environment: [ServiceName: [String: String]] = [
            .chat: ["CHAT_ACCEPT_SECONDS": "30"],
            .billing: ["BILLING_FREE_MINUTES": "0", "BILLING_PAYOUT_MIN_CENTS": "100", "BILLING_LOW_BALANCE_CENTS": "1800"],
            .notifications: ["NOTIFICATIONS_RETRY_SECONDS": "1"],
        ]
        try await AccountsPlatform.with(
            serviceEnvironment: environment, payments: true, mail: true, sandboxEnvironment: ["SANDBOX_PAYOUT_SECONDS": "0"]
        ) { platform in
            let advisorEmail = AccountsPlatform.email("earner")
            let advisorId = try await platform.register(email: advisorEmail, displayName: "Madame Zora", role: "advisor")
            let advisorToken = try await platform.signIn(email: advisorEmail)
            let profile = try await platform.request(
                "PUT", "/v1/advisors/me", token: advisorToken,
                json: ["headline": "Tarot with heart", "categories": ["tarot"], "pricePerMinuteCents": 249])
            #expect(profile.status == 200, "\(profile.text)")
            #expect(try await platform.request("PUT", "/v1/advisors/me/status", token: advisorToken, json: ["status": "online"]).status == 200)
            let advisor = (id: advisorId, token: advisorToken)
            let memberEmail = AccountsPlatform.email("spender")
            try await platform.register(email: memberEmail)
            let member = try await platform.signIn(email: memberEmail)

            // 20.00 in: a receipt. One paid minute takes the wallet from 20.00 to 17.51, below 18.00: low.
            let card = try await PaymentsEndToEndTests.saveCard(platform, "4242424242424242", for: member)
            #expect(try await PaymentsEndToEndTests.topUp(platform, cents: 2000, card: card, token: member).status == 201)
            let chat = try await PaymentsEndToEndTests.paidChat(platform, member: member, advisor: advisor)
            let refund = try await platform.request(
                "POST", "/v1/chats/\(chat)/refund-requests", token: member, json: ["reason": "The reading did not help me."])
            #expect(refund.object["status"] as? String == "approved", "\(refund.text)")
            try await eventually("the member is told of the receipt, the low balance and the refund, in the app") {
                try await Self.kinds(platform, member).isSuperset(of: ["top_up_receipt", "low_balance", "refund_decided"])
            }
            try await eventually("and by email") {
                let subjects = try await Self.subjects(platform, memberEmail)
                return subjects.contains { $0.contains("$20.00 added") } && subjects.contains { $0.contains("running low") }
                    && subjects.contains { $0.contains("refund was approved") }
            }
            let low = try await EmailEndToEndTests.inbox(platform, memberEmail).first { ($0["subject"] as? String)?.contains("running low") == true }
            #expect((low?["text"] as? String)?.contains("$17.51 left") == true, "\(String(describing: low?["text"]))")
            #expect((low?["html"] as? String)?.contains("$17.51 left") == true)

            // The member reviews the chat; the advisor is paid out.
            try await eventually("the review is taken") {
                try await platform.request(
                    "POST", "/v1/advisors/\(advisor.id)/reviews", token: member, json: ["chatId": chat, "rating": 5, "text": "Spot on."]
                ).status == 201
            }
            #expect(try await platform.request("PUT", "/v1/advisors/me/tax-info", token: advisor.token, json: PaymentsEndToEndTests.w9).status == 200)
            let payout = try await platform.request(
                "POST", "/v1/advisors/me/payouts", token: advisor.token, json: ["amountCents": 150], headers: ["Idempotency-Key": UUID().uuidString])
            #expect(payout.status == 201, "\(payout.text)")
            try await eventually("the advisor is told of the review and the payout, in the app and by email") {
                let subjects = try await Self.subjects(platform, advisorEmail)
                return try await Self.kinds(platform, advisor.token).isSuperset(of: ["review_received", "payout_sent"])
                    && subjects.contains { $0.contains("reviewed you") } && subjects.contains { $0.contains("$1.50 was sent") }
            }
            #expect(!(try await Self.kinds(platform, member)).contains("review_received"), "each notice to its own person")

            // A new policy: everyone, in the app and by email, once however often it is told.
            let legal = try await platform.staffMember(role: "legal")
            let version = ["version": "2099-\(UUID().uuidString.prefix(6))", "effectiveDate": "2099-01-01T00:00:00Z"]
            #expect(try await platform.request("POST", "/v1/staff/policy-versions", token: legal, json: version).status == 201)
            try await eventually("every account hears of the new policy") {
                var told = true
                for (token, address) in [(member, memberEmail), (advisor.token, advisorEmail)] {
                    let subjects = try await Self.subjects(platform, address)
                    let kinds = try await Self.kinds(platform, token)
                    told = told && kinds.contains("policy_changed") && subjects.filter { $0 == "Our privacy policy is changing" }.count == 1
                }
                return told
            }
            let notifications = Database(platform.harness.database.config(schema: "notifications"), logger: Logger(label: "test"))
            let policyCampaigns = try await notifications.withConnection { connection in
                try connection.query("SELECT id FROM campaigns WHERE purpose = 'policy'").count
            }
            await notifications.close()
            #expect(policyCampaigns == 1)
        }
    }
}
