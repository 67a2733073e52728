import Foundation
import Models
import Testing
import TestSupport

/// Accounts, sign-in and the privacy center through the real gateway, the real broker and the
/// six real services (docs/api.md "Accounts, identity, privacy"; the promises of the privacy policy).
@Suite(.serialized, .timeLimit(.minutes(4)))
struct AccountsEndToEndTests {
    /// Text that would break a query built by pasting strings together.
    static let sqlish = "Robert'); DROP TABLE accounts.accounts;-- \\ \" % _ ; 😀"

    @Test("register, sign in, profile, consents and their history, sign-in history, sign-out")
    func accountLifecycle() async throws {
        try await AccountsPlatform.with { platform in
            let email = AccountsPlatform.email("o'brien")
            let policy = try await platform.request("GET", "/v1/privacy/policy")
            #expect(policy.status == 200)
            #expect(policy.object["version"] is String && policy.object["effectiveDate"] is String)

            try await platform.register(
                email: email.uppercased(), password: Self.sqlish + "pw", displayName: Self.sqlish,
                extra: ["referralCode": Self.sqlish, "marketingEmailOptIn": true])
            let duplicate = try await platform.request(
                "POST", "/v1/accounts",
                json: [
                    "email": email, "password": AccountsPlatform.password, "displayName": "Twin", "role": "member",
                    "acceptPolicyVersion": policy.object["version"] as? String ?? "",
                ])
            #expect(duplicate.status == 409 && duplicate.code == "email_taken", "unique regardless of case: \(duplicate.text)")
            for (field, value) in [("password", "short"), ("email", "not-an-email"), ("acceptPolicyVersion", "1900-01-01")] {
                var body: [String: Any] = [
                    "email": AccountsPlatform.email("bad"), "password": AccountsPlatform.password, "displayName": "Bad",
                    "role": "member", "acceptPolicyVersion": policy.object["version"] as? String ?? "",
                ]
                body[field] = value
                let refused = try await platform.request("POST", "/v1/accounts", json: body)
                #expect(refused.status == 422, "\(field): \(refused.text)")
            }

            let token = try await platform.signIn(email: email, password: Self.sqlish + "pw", userAgent: Self.sqlish)
            let me = try await platform.request("GET", "/v1/me", token: token)
            #expect(me.status == 200)
            #expect((me.object["email"] as? String)?.lowercased() == email, "\(me.text)")
            #expect(me.object["displayName"] as? String == Self.sqlish)
            #expect(me.object["source"] as? String == Self.sqlish)

            let changed = try await platform.request(
                "PATCH", "/v1/me", token: token, json: ["displayName": Self.sqlish + "2"])
            #expect(changed.status == 200, "\(changed.text)")
            #expect(changed.object["displayName"] as? String == Self.sqlish + "2")
            let unconfirmed = try await platform.request("PATCH", "/v1/me", token: token, json: ["email": AccountsPlatform.email("new")])
            #expect((400..<500).contains(unconfirmed.status), "changing email needs the current password: \(unconfirmed.text)")

            let consents = try await platform.request("GET", "/v1/me/consents", token: token)
            #expect(consents.status == 200)
            #expect(consents.object["marketingEmail"] as? Bool == true)
            let unregistered = try await platform.request(
                "PUT", "/v1/me/consents", token: token, json: ["partners": ["partner'; DELETE FROM consents;--": true]])
            #expect(unregistered.status == 422 && unregistered.text.contains("unknown_partner"), "\(unregistered.text)")
            let adminEmail = AccountsPlatform.email("admin")
            try await platform.createAdmin(email: adminEmail, password: AccountsPlatform.password)
            let admin = try await platform.signIn(email: adminEmail)
            let partner = "daily-stars"
            let registered = try await platform.request(
                "POST", "/v1/staff/partners", token: admin, json: ["id": partner, "name": "Daily Stars"])
            #expect(registered.status == 201, "\(registered.text)")
            let listed = try await platform.request("GET", "/v1/partners")
            #expect(listed.items.map { $0["id"] as? String } == [partner], "\(listed.text)")
            let set = try await platform.request(
                "PUT", "/v1/me/consents", token: token, json: ["performanceCookies": true, "partners": [partner: true]])
            #expect(set.status == 200, "\(set.text)")
            #expect(set.object["performanceCookies"] as? Bool == true)
            #expect((set.object["partners"] as? [String: Bool])?[partner] == true)
            let history = try await platform.request("GET", "/v1/me/consents/history?limit=100", token: token)
            #expect(history.status == 200)
            let sources = history.items.compactMap { $0["source"] as? String }
            #expect(sources.contains("settings") && sources.contains("registration"), "\(history.text)")
            #expect(history.items.contains { $0["consent"] as? String == "partner:\(partner)" }, "\(history.text)")
            #expect(history.items.allSatisfy { $0["policyVersion"] is String && $0["changedAt"] is String })
            let firstPage = try await platform.request("GET", "/v1/me/consents/history?limit=1", token: token)
            #expect(firstPage.items.count == 1 && firstPage.object["nextCursor"] is String, "\(firstPage.text)")
            for limit in ["0", "101", "x"] {
                let refused = try await platform.request("GET", "/v1/me/consents/history?limit=\(limit)", token: token)
                #expect(refused.status == 422)
            }

            let signIns = try await platform.request("GET", "/v1/me/sign-ins", token: token)
            #expect(signIns.status == 200)
            #expect(
                signIns.items.contains {
                    $0["userAgent"] as? String == Self.sqlish && $0["succeeded"] as? Bool == true
                        && $0["ipAddress"] as? String == "127.0.0.1"
                }, "the gateway passes the connection's address and user agent: \(signIns.text)")

            let browser = try await platform.request(
                "POST", "/v1/sessions", json: ["email": email, "password": Self.sqlish + "pw"])
            let cookie = try #require(browser.headers["set-cookie"], "sign-in sets the session cookie")
            for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
                #expect(cookie.contains(attribute), "\(attribute) in \(cookie)")
            }
            let sessionCookie = try #require(cookie.split(separator: ";").first.map(String.init))
            let byCookie = try await platform.request("GET", "/v1/me", headers: ["Cookie": sessionCookie])
            #expect(byCookie.status == 200, "the session cookie signs the request in: \(byCookie.text)")
            let otherDevice = try #require(browser.object["token"] as? String)
            // A browser gets the session as the HttpOnly cookie only: no script on the page can read it.
            let fromPage = try await platform.request(
                "POST", "/v1/sessions", json: ["email": email, "password": Self.sqlish + "pw"],
                headers: ["Sec-Fetch-Site": "same-origin"])
            #expect(fromPage.status == 201 && fromPage.object["token"] == nil, "\(fromPage.text)")
            #expect(fromPage.object["expiresAt"] is String && fromPage.object["account"] is [String: Any], "\(fromPage.text)")
            let pageCookie = try #require(fromPage.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
            #expect(try await platform.request("GET", "/v1/me", headers: ["Cookie": pageCookie]).status == 200)
            // Over plain HTTP to another host a browser sends no Sec-Fetch-Site, but a POST's Origin.
            let overHTTP = try await platform.request(
                "POST", "/v1/sessions", json: ["email": email, "password": Self.sqlish + "pw"], headers: ["Origin": platform.gateway])
            #expect(overHTTP.status == 201 && overHTTP.object["token"] == nil && overHTTP.headers["set-cookie"] != nil, "\(overHTTP.text)")
            let newPassword = Self.sqlish + "new"
            let refusedChange = try await platform.request(
                "PATCH", "/v1/me", token: token, json: ["password": newPassword, "currentPassword": "not it at all"])
            #expect((400..<500).contains(refusedChange.status), "\(refusedChange.text)")
            let passwordChange = try await platform.request(
                "PATCH", "/v1/me", token: token, json: ["password": newPassword, "currentPassword": Self.sqlish + "pw"])
            #expect(passwordChange.status == 200, "\(passwordChange.text)")
            try await Eventually.wait(timeout: .seconds(5), "the other session ended with the password change") {
                try await platform.request("GET", "/v1/me", token: otherDevice).status == 401
            }
            #expect(try await platform.request("GET", "/v1/me", token: token).status == 200, "this session stays")
            _ = try await platform.signIn(email: email, password: newPassword)

            let signOut = try await platform.request("DELETE", "/v1/sessions/current", token: token)
            #expect(signOut.status == 204)
            let afterwards = try await platform.request("GET", "/v1/me", token: token)
            #expect(afterwards.status == 401 && afterwards.code == "unauthenticated")
        }
    }

    @Test("unknown email and wrong password answer alike; repeated failures end in 429 with Retry-After")
    func signInRefusals() async throws {
        try await AccountsPlatform.with { platform in
            let email = AccountsPlatform.email("target")
            try await platform.register(email: email)
            let wrong = try await platform.request("POST", "/v1/sessions", json: ["email": email, "password": "not the password"])
            let unknown = try await platform.request(
                "POST", "/v1/sessions", json: ["email": AccountsPlatform.email("nobody"), "password": "not the password"])
            #expect(wrong.status == 401 && wrong.code == "invalid_credentials")
            #expect(unknown.status == wrong.status && unknown.code == wrong.code)
            #expect(unknown.object["detail"] as? String == wrong.object["detail"] as? String)

            var limited: Reply?
            for _ in 0..<30 {
                let reply = try await platform.request("POST", "/v1/sessions", json: ["email": email, "password": "guess"])
                if reply.status == 429 {
                    limited = reply
                    break
                }
                #expect(reply.status == 401)
            }
            let refusal = try #require(limited, "repeated failures end in 429")
            #expect(refusal.code == "rate_limited")
            #expect(Int(refusal.headers["retry-after"] ?? "") ?? 0 >= 1)
        }
    }

    @Test("a new policy version is asked for on every response until accepted; staff roles are enforced")
    func policyAndStaff() async throws {
        try await AccountsPlatform.with { platform in
            let adminEmail = AccountsPlatform.email("admin")
            try await platform.createAdmin(email: adminEmail, password: AccountsPlatform.password)
            let admin = try await platform.signIn(email: adminEmail)
            let memberEmail = AccountsPlatform.email("member")
            let memberId = try await platform.register(email: memberEmail)
            let member = try await platform.signIn(email: memberEmail)
            #expect(try await platform.request("GET", "/v1/me", token: member).headers["policy-acceptance-required"] == nil)

            let version = ["version": "2099-\(UUID().uuidString.prefix(6))", "effectiveDate": "2026-01-01T00:00:00Z"]
            let forbidden = try await platform.request("POST", "/v1/staff/policy-versions", token: member, json: version)
            #expect(forbidden.status == 403, "\(forbidden.text)")
            // The gateway keeps the current policy a moment: another gateway's copy must not outlive a new version.
            let other = try await platform.startGateway()
            let before = try #require(
                await HTTP.get(other.url + "/v1/privacy/policy").flatMap { try JSONSerialization.jsonObject(with: $0.body) as? [String: Any] })
            #expect(before["version"] as? String != version["version"])
            _ = try await platform.request("GET", "/v1/privacy/policy")  // this gateway's copy, fresh
            let published = try await platform.request("POST", "/v1/staff/policy-versions", token: admin, json: version)
            #expect(published.status == 201, "\(published.text)")
            #expect(
                try await platform.request("GET", "/v1/privacy/policy").object["version"] as? String == version["version"],
                "the gateway it was published through shows it at once")
            try await Eventually.wait(timeout: .seconds(5), "the other gateway shows it within its cache's lifetime") {
                let answer = await HTTP.get(other.url + "/v1/privacy/policy")
                return (answer.flatMap { try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any] })?["version"] as? String
                    == version["version"]
            }
            try await Eventually.wait(timeout: .seconds(10), "the member is asked to accept the new policy") {
                try await platform.request("GET", "/v1/me", token: member).headers["policy-acceptance-required"] == version["version"]
            }
            #expect(try await platform.request("GET", "/v1/me/consents", token: member).headers["policy-acceptance-required"] != nil)
            let accepted = try await platform.request(
                "POST", "/v1/me/policy-acceptances", token: member, json: ["version": version["version"]!])
            #expect((200..<300).contains(accepted.status), "\(accepted.text)")
            #expect(accepted.headers["policy-acceptance-required"] == nil)
            #expect(try await platform.request("GET", "/v1/me", token: member).headers["policy-acceptance-required"] == nil)

            let supportEmail = AccountsPlatform.email("support")
            let staffBody: [String: Any] = [
                "email": supportEmail, "password": AccountsPlatform.password, "displayName": "Support", "roles": ["support"],
            ]
            #expect(try await platform.request("POST", "/v1/staff/accounts", token: member, json: staffBody).status == 403)
            let created = try await platform.request("POST", "/v1/staff/accounts", token: admin, json: staffBody)
            #expect(created.status == 201, "\(created.text)")
            let support = try await platform.signIn(email: supportEmail)
            let viewed = try await platform.request(
                "GET", "/v1/staff/accounts/\(memberId)?reason=ticket%2042%27%3B--", token: support)
            #expect(viewed.status == 200, "\(viewed.text)")
            #expect(viewed.object["email"] as? String == memberEmail)
            #expect(try await platform.request("GET", "/v1/staff/accounts/\(memberId)?reason=x", token: member).status == 403)
            #expect(try await platform.request("GET", "/v1/staff/accounts/\(UUID())?reason=x", token: support).status == 404)
            let accessLog = try await platform.request("GET", "/v1/me/access-log", token: member)
            #expect(accessLog.status == 200)
            #expect(accessLog.items.contains { $0["reason"] as? String == "ticket 42';--" }, "\(accessLog.text)")
        }
    }

    @Test("export has every service's section; erasure completes everywhere and frees the email")
    func exportAndErasure() async throws {
        try await AccountsPlatform.with { platform in
            let adminEmail = AccountsPlatform.email("admin")
            try await platform.createAdmin(email: adminEmail, password: AccountsPlatform.password)
            let admin = try await platform.signIn(email: adminEmail)
            let email = AccountsPlatform.email("leaving")
            let oldId = try await platform.register(email: email, displayName: "Old Self")
            let token = try await platform.signIn(email: email)

            let export = try await platform.request("GET", "/v1/me/export", token: token)
            #expect(export.status == 200, "\(export.text)")
            #expect(export.headers["content-disposition"]?.hasPrefix("attachment") == true)
            #expect(export.object["services"] as? [String] == ServiceName.all.map(\.rawValue))
            #expect(Set((export.object["sections"] as? [String: Any])?.keys ?? [:].keys) == Set(ServiceName.all.map(\.rawValue)))
            #expect(export.text.contains(email))

            // Legal staff export the person's data for a reason; the person reads it in their access log.
            let legal = try await platform.request(
                "POST", "/v1/staff/accounts/\(oldId)/export", token: admin, json: ["reason": "court order 12"])
            #expect(legal.status == 200, "\(legal.text)")
            #expect(legal.text.contains(email))
            let memberTries = try await platform.request(
                "POST", "/v1/staff/accounts/\(oldId)/export", token: token, json: ["reason": "curious"])
            #expect(memberTries.status == 403, "\(memberTries.text)")
            let accesses = try await platform.request("GET", "/v1/me/access-log", token: token)
            #expect(accesses.items.first?["action"] as? String == "staff.legal-export", "\(accesses.text)")
            #expect(accesses.items.first?["reason"] as? String == "court order 12")

            let wrongPassword = try await platform.request("DELETE", "/v1/me", token: token, json: ["password": "nope nope nope"])
            #expect((400..<500).contains(wrongPassword.status))
            let erased = try await platform.request("DELETE", "/v1/me", token: token, json: ["password": AccountsPlatform.password])
            #expect(erased.status == 202, "\(erased.text)")
            let erasureId = try #require(erased.object["erasureId"] as? String)
            try await Eventually.wait(timeout: .seconds(60), "every service confirmed the erasure", every: .milliseconds(250)) {
                let status = try await platform.request("GET", "/v1/staff/erasures/\(erasureId)", token: admin)
                return status.object["completedAt"] is String
                    && Set(status.object["confirmed"] as? [String] ?? []) == Set(ServiceName.all.map(\.rawValue))
            }
            let signIn = try await platform.request("POST", "/v1/sessions", json: ["email": email, "password": AccountsPlatform.password])
            #expect(signIn.status == 401 && signIn.code == "invalid_credentials")
            #expect(try await platform.request("GET", "/v1/me", token: token).status == 401)

            let newId = try await platform.register(email: email, displayName: "New Self")
            #expect(newId != oldId)
            let fresh = try await platform.signIn(email: email)
            let newExport = try await platform.request("GET", "/v1/me/export", token: fresh)
            #expect(newExport.status == 200)
            #expect(!newExport.text.contains(oldId) && !newExport.text.contains("Old Self"))
        }
    }

    @Test("401 without a session on every signed-in route; malformed JSON 400; oversized bodies 413")
    func refusals() async throws {
        try await AccountsPlatform.with { platform in
            let signedInRoutes = [
                ("GET", "/v1/me"), ("PATCH", "/v1/me"), ("DELETE", "/v1/me"), ("DELETE", "/v1/sessions/current"),
                ("GET", "/v1/me/consents"), ("PUT", "/v1/me/consents"), ("GET", "/v1/me/consents/history"),
                ("POST", "/v1/me/policy-acceptances"), ("GET", "/v1/me/sign-ins"), ("GET", "/v1/me/access-log"),
                ("GET", "/v1/me/export"), ("POST", "/v1/staff/accounts"), ("POST", "/v1/staff/policy-versions"),
                ("GET", "/v1/staff/erasures/\(UUID())"), ("GET", "/v1/staff/accounts/\(UUID())?reason=x"),
            ]
            for (method, path) in signedInRoutes {
                for token in [nil, "forged-token"] {
                    let reply = try await platform.request(method, path, token: token, json: method == "GET" ? nil : [:] as [String: Any])
                    #expect(reply.status == 401 && reply.code == "unauthenticated", "\(method) \(path)")
                }
            }
            let malformed = try await platform.request("POST", "/v1/accounts", body: Data(#"{"email": "a@b.c", "#.utf8))
            #expect(malformed.status == 400 && malformed.code == "malformed_json")
            let wrongShape = try await platform.request("POST", "/v1/sessions", json: ["email": ["nested"], "password": 1])
            #expect(wrongShape.status == 422 || wrongShape.status == 400)
            let oversized = try await platform.request(
                "POST", "/v1/accounts", body: Data(repeating: UInt8(ascii: " "), count: (1 << 20) + 1))
            #expect(oversized.status == 413 && oversized.code == "body_too_large")
            let unknownPath = try await platform.request("GET", "/v1/me/nothing")
            #expect(unknownPath.status == 404)
        }
    }
}
