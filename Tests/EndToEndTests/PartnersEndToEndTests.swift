import Foundation
import Models
import TestSupport
import Testing

/// Partners' keys and the partner API on the integration port, through the real gateway (staff
/// routes), accounts and integration (docs/partners.md).
@Suite("Partners end to end", .serialized, .timeLimit(.minutes(3)))
struct PartnersEndToEndTests {
    /// A GET on the partner API with `key`.
    static func get(_ platform: AccountsPlatform, _ path: String, key: String?) async throws -> Reply {
        let integration = try #require(platform.payments).integration
        let answer = try #require(
            await HTTP.request("GET", integration + path, headers: key.map { ["Authorization": "Bearer \($0)"] } ?? [:], body: nil))
        return Reply(answer: answer)
    }

    /// A registered partner and an admin's token.
    static func partner(_ platform: AccountsPlatform, id: String = "horoscope-daily") async throws -> String {
        let admin = try await platform.staffMember(role: "admin")
        let registered = try await platform.request("POST", "/v1/staff/partners", token: admin, json: ["id": id, "name": "Horoscope Daily"])
        #expect(registered.status == 201, "\(registered.text)")
        return admin
    }

    static func makeKey(_ platform: AccountsPlatform, admin: String, partner: String = "horoscope-daily", scopes: [String]) async throws
        -> (id: String, secret: String)
    {
        let made = try await platform.request(
            "POST", "/v1/staff/partners/\(partner)/keys", token: admin, json: ["environment": "live", "scopes": scopes])
        #expect(made.status == 201, "\(made.text)")
        let key = try #require(made.object["key"] as? [String: Any], "\(made.text)")
        return (try #require(key["id"] as? String), try #require(made.object["secret"] as? String))
    }

    @Test("a key opens only its scopes; keys rotate with an overlap; a revoked key is refused at once; lists never show a secret")
    func keysAndScopes() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let admin = try await Self.partner(platform)
            let member = try await ChatEndToEndTests.member(platform)
            let refused = try await platform.request(
                "POST", "/v1/staff/partners/horoscope-daily/keys", token: member.token, json: ["environment": "live", "scopes": ["directory:read"]])
            #expect(refused.status == 403, "only admins make keys: \(refused.text)")
            let bad = try await platform.request(
                "POST", "/v1/staff/partners/horoscope-daily/keys", token: admin, json: ["environment": "prod", "scopes": ["everything"]])
            #expect(bad.status == 422, "\(bad.text)")
            #expect(try await platform.request("GET", "/v1/staff/partners/nobody-here/keys", token: admin).status == 404)
            // A partner registered for some scopes gets keys for those only.
            let narrow = try await platform.request(
                "POST", "/v1/staff/partners", token: admin, json: ["id": "embed-only", "name": "Embed Only", "scopes": ["directory:read"]])
            #expect(narrow.status == 201 && narrow.object["scopes"] as? [String] == ["directory:read"], "\(narrow.text)")
            let beyond = try await platform.request(
                "POST", "/v1/staff/partners/embed-only/keys", token: admin, json: ["environment": "live", "scopes": ["reports:read"]])
            #expect(beyond.status == 422 && beyond.text.contains("not_allowed"), "\(beyond.text)")
            _ = try await Self.makeKey(platform, admin: admin, partner: "embed-only", scopes: ["directory:read"])
            let listedPartners = try await platform.request("GET", "/v1/partners")
            #expect(listedPartners.items.contains { $0["id"] as? String == "horoscope-daily" && ($0["scopes"] as? [String])?.count == Accounts.PartnerScope.allCases.count })

            let first = try await Self.makeKey(platform, admin: admin, scopes: ["directory:read"])
            #expect(first.secret.hasPrefix("adv_live_") && first.secret.count > 40, "\(first.secret)")
            let reports = try await Self.makeKey(platform, admin: admin, scopes: ["reports:read"])

            #expect(try await Self.get(platform, "/partner/v1/categories", key: first.secret).status == 200)
            let advisors = try await Self.get(platform, "/partner/v1/advisors?limit=5", key: first.secret)
            #expect(advisors.status == 200 && advisors.object["items"] is [Any], "\(advisors.text)")
            let noKey = try await Self.get(platform, "/partner/v1/advisors", key: nil)
            #expect(noKey.status == 401 && noKey.headers["content-type"]?.contains("problem+json") == true, "\(noKey.text)")
            #expect(noKey.headers["www-authenticate"] == #"Bearer realm="partner-api""#, "RFC 6750 §3: \(noKey.headers)")
            let unknown = try await Self.get(platform, "/partner/v1/advisors", key: "adv_live_notarealkeyatall0000000000000000")
            #expect(unknown.status == 401 && unknown.headers["www-authenticate"]?.contains(#"error="invalid_token""#) == true, "\(unknown.headers)")
            let wrongScope = try await Self.get(platform, "/partner/v1/advisors", key: reports.secret)
            #expect(wrongScope.status == 403 && wrongScope.code == "insufficient_scope", "\(wrongScope.text)")
            #expect(try await Self.get(platform, "/partner/v1/advisors?limit=0", key: first.secret).status == 422)

            // Rotation: a second key works beside the first, until the first is revoked.
            let second = try await Self.makeKey(platform, admin: admin, scopes: ["directory:read"])
            #expect(try await Self.get(platform, "/partner/v1/categories", key: second.secret).status == 200)
            #expect(try await Self.get(platform, "/partner/v1/categories", key: first.secret).status == 200)
            let revoked = try await platform.request("DELETE", "/v1/staff/partner-keys/\(first.id)", token: admin)
            #expect(revoked.status == 200 && revoked.object["revokedAt"] is String, "\(revoked.text)")
            #expect(try await Self.get(platform, "/partner/v1/categories", key: first.secret).status == 401, "revoked at once")
            #expect(try await Self.get(platform, "/partner/v1/categories", key: second.secret).status == 200)

            let listed = try await platform.request("GET", "/v1/staff/partners/horoscope-daily/keys", token: admin)
            #expect(listed.status == 200 && listed.items.count == 3, "\(listed.text)")
            #expect(!listed.text.contains(second.secret) && !listed.text.contains(first.secret), "a key is shown once, when made")
            #expect(listed.items.contains { $0["id"] as? String == second.id && $0["lastUsedAt"] is String }, "last use is shown")
        }
    }

    @Test("each key has its own rate: past it 429 with Retry-After, another key unaffected")
    func rateLimits() async throws {
        try await AccountsPlatform.with(payments: true, integrationEnvironment: ["INTEGRATION_RATE_PER_MINUTE": "5"]) { platform in
            let admin = try await Self.partner(platform)
            let busy = try await Self.makeKey(platform, admin: admin, scopes: ["directory:read"])
            let calm = try await Self.makeKey(platform, admin: admin, scopes: ["directory:read"])
            for _ in 0..<5 {
                #expect(try await Self.get(platform, "/partner/v1/categories", key: busy.secret).status == 200)
            }
            let limited = try await Self.get(platform, "/partner/v1/categories", key: busy.secret)
            #expect(limited.status == 429, "\(limited.text)")
            #expect(Int(limited.headers["retry-after"] ?? "") ?? 0 >= 1, "\(limited.headers)")
            #expect(try await Self.get(platform, "/partner/v1/categories", key: calm.secret).status == 200)
        }
    }

    @Test("a referral code counts the accounts registered with it, per day; a group of three is suppressed, never shown exactly, nor dated")
    func referralsAndReports() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let admin = try await Self.partner(platform)
            let writer = try await Self.makeKey(platform, admin: admin, scopes: ["referrals:write"])
            let reader = try await Self.makeKey(platform, admin: admin, scopes: ["reports:read"])
            let integration = try #require(platform.payments).integration
            func post(_ json: String?, key: String, idempotencyKey: String? = UUID().uuidString) async throws -> Reply {
                var headers = ["Authorization": "Bearer \(key)"]
                if let idempotencyKey { headers["Idempotency-Key"] = idempotencyKey }
                if json != nil { headers["Content-Type"] = "application/json" }
                return Reply(answer: try #require(
                    await HTTP.request("POST", integration + "/partner/v1/referral-codes", headers: headers, body: json.map { Data($0.utf8) })))
            }
            let made = try await post(#"{"code": "STARS2026"}"#, key: writer.secret)
            #expect(made.status == 201 && made.object["code"] as? String == "STARS2026", "\(made.text)")
            #expect(try await post(#"{"code": "STARS2026"}"#, key: writer.secret).status == 409, "a code is one partner's")
            #expect(try await post(#"{"code": "no spaces"}"#, key: writer.secret).status == 422)
            #expect(try await post(#"{"code": "#, key: writer.secret).status == 400)
            #expect(try await post(#"{"code": null}"#, key: writer.secret).status == 422)
            #expect(try await post(#"{"name": "x"}"#, key: writer.secret).status == 422)
            #expect(try await post(nil, key: reader.secret).code == "insufficient_scope")
            // Idempotency-Key: needed; a repeat answers the first answer; another body with it is refused.
            #expect(try await post(nil, key: writer.secret, idempotencyKey: nil).status == 400)
            let once = try await post(nil, key: writer.secret, idempotencyKey: "k-1")
            let again = try await post(nil, key: writer.secret, idempotencyKey: "k-1")
            #expect(once.status == 201 && again.status == 201 && once.object["code"] as? String == again.object["code"] as? String, "\(again.text)")
            #expect(try await post(#"{"code": "OTHER1"}"#, key: writer.secret, idempotencyKey: "k-1").code == "idempotency_key_reused")
            #expect((once.object["code"] as? String)?.count == 10, "a code is made when none is given: \(once.text)")
            #expect(try await Self.get(platform, "/partner/v1/referral-codes", key: writer.secret).items.count == 2)

            for index in 0..<3 {
                try await platform.register(email: AccountsPlatform.email("referred\(index)"), extra: ["referralCode": "STARS2026"])
            }
            let today = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
            let report = try await Self.get(platform, "/partner/v1/reports/referrals?from=\(today)&to=\(today)", key: reader.secret)
            #expect(report.status == 200 && report.object["minGroupSize"] as? Int == 10, "\(report.text)")
            #expect(report.items.first { $0["code"] as? String == "STARS2026" } == nil, "three is fewer than ten: nothing to show, no row: \(report.text)")
            #expect(!report.text.contains("\"signups\":3"), "never the exact small number")
            #expect(try await Self.get(platform, "/partner/v1/reports/referrals?from=\(today)", key: reader.secret).status == 422)
            #expect(try await Self.get(platform, "/partner/v1/reports/referrals?from=2026-01-01&to=2026-12-31", key: reader.secret).status == 422)
        }
        // With a minimum group of two, the same three show, with their first chats and what they paid.
        try await AccountsPlatform.with(
            serviceEnvironment: [.chat: ["CHAT_ACCEPT_SECONDS": "30"], .billing: ["BILLING_FREE_MINUTES": "0"]], payments: true,
            integrationEnvironment: ["INTEGRATION_REPORT_MIN_GROUP": "2", "INTEGRATION_REVENUE_SHARE_PERCENT": "20"]
        ) { platform in
            let admin = try await Self.partner(platform)
            let key = try await Self.makeKey(platform, admin: admin, scopes: ["referrals:write", "reports:read"])
            let integration = try #require(platform.payments).integration
            for code in ["MOON", "SUNNY"] {
                _ = await HTTP.request(
                    "POST", integration + "/partner/v1/referral-codes",
                    headers: ["Authorization": "Bearer \(key.secret)", "Content-Type": "application/json", "Idempotency-Key": code],
                    body: Data(#"{"code": "\#(code)"}"#.utf8))
            }
            var referred: [(id: String, token: String)] = []
            for (index, code) in ["MOON", "MOON", "MOON", "SUNNY"].enumerated() {
                let email = AccountsPlatform.email("referred\(index)")
                let id = try await platform.register(email: email, extra: ["referralCode": code])
                referred.append((id, try await platform.signIn(email: email)))
            }
            // Two MOON members chat and pay (one of them twice), the third does not; SUNNY's one member pays.
            let advisor = try await ChatEndToEndTests.onlineAdvisor(platform)
            for (member, chats) in [(referred[0], 2), (referred[1], 1), (referred[3], 1)] {
                try await BillingEndToEndTests.fund(platform, member: member.id, cents: 2000)
                for _ in 0..<chats { _ = try await PaymentsEndToEndTests.paidChat(platform, member: member.token, advisor: advisor) }
            }
            let today = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
            var moon: [String: Any] = [:]
            try await eventually("the chats are counted for MOON") {
                let report = try await Self.get(platform, "/partner/v1/reports/referrals?from=\(today)&to=\(today)", key: key.secret)
                moon = report.items.first { $0["code"] as? String == "MOON" } ?? [:]
                // Charges and first chats come from two event streams (billing's, chat's), applied apart.
                return moon["chargedCents"] as? Int == 3 * 249 && moon["firstChats"] as? Int == 2
            }
            #expect(moon["signups"] as? Int == 3 && moon["firstChats"] as? Int == 2 && moon["payers"] as? Int == 2, "\(moon)")
            #expect(moon["shareCents"] as? Int == 3 * 249 * 20 / 100 && moon["suppressed"] as? Bool == false, "\(moon)")
            let report = try await Self.get(platform, "/partner/v1/reports/referrals?from=\(today)&to=\(today)", key: key.secret)
            #expect(report.items.first { $0["code"] as? String == "SUNNY" } == nil, "one person's day is not even dated: \(report.text)")
        }
    }
}

