import Foundation
import Models
import PlatformSecurity
import Synchronization
import TestSupport
import Testing

/// Social sign-in end to end, with the sandbox's OpenID provider: a browser (cookies kept by
/// hand) goes to the provider from the gateway, signs in there, and comes back; the integration
/// service verifies the ID token; accounts links, registers or signs in.
@Suite("Social sign-in end to end", .serialized, .timeLimit(.minutes(4)))
struct SocialSignInEndToEndTests {
    /// A browser: its cookies for the gateway, and the requests a person's clicks make.
    final class Browser: Sendable {
        let platform: AccountsPlatform
        private let jar = Mutex<[String: String]>([:])
        init(_ platform: AccountsPlatform) { self.platform = platform }

        var cookies: [String: String] { jar.withLock { $0 } }

        private func keep(_ reply: Reply) {
            for line in (reply.headers["set-cookie"] ?? "").split(separator: "\n") {
                let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2 else { continue }
                let name = String(pair[0]).trimmingCharacters(in: .whitespaces)
                let cleared = line.lowercased().contains("max-age=0")
                jar.withLock { $0[name] = cleared ? nil : String(pair[1]) }
            }
        }

        private var cookieHeader: [String: String] {
            let cookies = self.cookies
            return cookies.isEmpty ? [:] : ["Cookie": cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
        }

        func get(_ url: String) async throws -> Reply {
            let reply = Reply(answer: try #require(await HTTP.request("GET", url, headers: cookieHeader, body: nil), "GET \(url)"))
            keep(reply)
            return reply
        }

        /// A form the gateway's page posts, as the browser posts it (same origin).
        func post(_ path: String, _ fields: [(String, String)]) async throws -> Reply {
            let reply = try await OAuthEndToEndTests.post(
                platform.gateway + path, fields, headers: cookieHeader.merging(["Sec-Fetch-Site": "same-origin", "User-Agent": "E2E/1.0"]) { a, _ in a })
            keep(reply)
            return reply
        }

        /// Starts at the gateway, signs in at the provider as `email`, and answers what the
        /// gateway's callback answers; `callback` is the URL the provider sent the browser to.
        func signIn(
            email: String, name: String = "Nova Social", verified: Bool = true, next: String = "/welcome"
        ) async throws -> (reply: Reply, callback: String) {
            let start = try await get(platform.gateway + "/auth/social/sandbox/start?next=" + next)
            #expect(start.status == 303, "\(start.text)")
            let authorize = try #require(start.headers["location"])
            let page = try await get(authorize)
            #expect(page.status == 200 && page.text.contains("Sign in to Sandbox ID"), "\(page.text)")
            let asked = try #require(URLComponents(string: authorize)?.queryItems).map { ($0.name, $0.value ?? "") }
            let sandbox = try #require(platform.payments).sandbox
            let provider = try await OAuthEndToEndTests.post(
                sandbox + "/oidc/authorize",
                asked + [("email", email), ("name", name), ("decision", "allow")] + (verified ? [("email_verified", "true")] : []))
            #expect(provider.status == 303, "\(provider.text)")
            let callback = try #require(provider.headers["location"])
            #expect(callback.hasPrefix(platform.gateway + "/auth/social/sandbox/callback?"), "\(callback)")
            return (try await get(callback), callback)
        }
    }

    /// The next token the sandbox's provider issues.
    static func nextToken(_ platform: AccountsPlatform, _ json: String) async throws {
        let sandbox = try #require(platform.payments).sandbox
        let set = try #require(
            await HTTP.request(
                "POST", sandbox + "/v1/sandbox/oidc/next-token",
                headers: ["Content-Type": "application/json"], body: Data(json.utf8)))
        #expect(set.status == 204)
    }

    /// An ID token straight from the sandbox's provider, as the platform's client gets one: its
    /// sign-in form posted, then the code exchanged with the PKCE verifier.
    static func idToken(_ platform: AccountsPlatform, nonce: String) async throws -> String {
        let sandbox = try #require(platform.payments).sandbox
        let verifier = SecureRandom.token()
        let redirect = "http://127.0.0.1:9/callback"
        let authorized = try await OAuthEndToEndTests.post(
            sandbox + "/oidc/authorize",
            [
                ("client_id", AccountsPlatform.Payments.openIDClientId), ("redirect_uri", redirect), ("response_type", "code"),
                ("scope", "openid email"), ("state", "s"), ("nonce", nonce),
                ("code_challenge", Base64.encode(SHA256.hash(Data(verifier.utf8)), alphabet: .url)), ("code_challenge_method", "S256"),
                ("email", "pyjwt@example.com"), ("email_verified", "true"), ("decision", "allow"),
            ])
        let code = try #require(OAuthEndToEndTests.redirectQuery(authorized)["code"], "\(authorized.headers)")
        let credentials = Data("\(AccountsPlatform.Payments.openIDClientId):\(AccountsPlatform.Payments.openIDClientSecret)".utf8)
        let tokens = try await OAuthEndToEndTests.post(
            sandbox + "/oidc/token",
            [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect), ("code_verifier", verifier)],
            headers: ["Authorization": "Basic " + credentials.base64EncodedString()])
        return try #require(tokens.object["id_token"] as? String, "\(tokens.text)")
    }

    /// What PyJWT (someone else's JOSE code) says of `token`, checked against the provider's
    /// published keys, the platform's client id, the issuer and `nonce`.
    static func pyjwtVerdict(_ platform: AccountsPlatform, _ token: String, nonce: String) async throws -> String {
        let python = try #require(
            ProcessInfo.processInfo.environment["PYTHON_TOOLS"],
            "set PYTHON_TOOLS to a python with PyJWT (Deploy/local/test installs it and sets it)")
        let issuer = try #require(platform.payments).sandbox + "/oidc"
        let verify = """
            import sys, jwt
            token, issuer, audience, nonce = sys.argv[1:5]
            try:
                key = jwt.PyJWKClient(issuer + '/jwks').get_signing_key_from_jwt(token)
                claims = jwt.decode(token, key.key, algorithms=['RS256', 'ES256'], audience=audience, issuer=issuer)
                print('valid ' + jwt.get_unverified_header(token)['alg'] if claims.get('nonce') == nonce else 'wrong nonce')
            except Exception as error:
                print('invalid ' + type(error).__name__)
            """
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pyjwt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = folder.appendingPathComponent("verdict.log")
        let run = try EmailEndToEndTests.python(python, verify, [token, issuer, AccountsPlatform.Payments.openIDClientId, nonce], log: log)
        #expect(await run.exitStatus() == 0)
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? output
    }

    @Test("the sandbox provider's ID tokens are what PyJWT (someone else's JOSE code) verifies, RS256 and ES256, and its forgeries what it refuses")
    func tokensVerifyWithPyJWT() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            #expect(try await Self.pyjwtVerdict(platform, try await Self.idToken(platform, nonce: "n-1"), nonce: "n-1") == "valid RS256")
            try await Self.nextToken(platform, #"{"algorithm": "ES256"}"#)
            #expect(try await Self.pyjwtVerdict(platform, try await Self.idToken(platform, nonce: "n-2"), nonce: "n-2") == "valid ES256")
            try await Self.nextToken(platform, #"{"fault": "forged"}"#)
            #expect(try await Self.pyjwtVerdict(platform, try await Self.idToken(platform, nonce: "n-3"), nonce: "n-3") == "invalid InvalidSignatureError")
            try await Self.nextToken(platform, #"{"fault": "extra-audience"}"#)
            #expect(try await Self.pyjwtVerdict(platform, try await Self.idToken(platform, nonce: "n-4"), nonce: "n-4").hasPrefix("valid"),
                    "PyJWT takes a token that also names another audience; the platform refuses it (the refusals test)")
        }
    }

    static func policyVersion(_ platform: AccountsPlatform) async throws -> String {
        try #require(try await platform.request("GET", "/v1/privacy/policy").object["version"] as? String)
    }

    @Test("joining with the provider, signing in with it again, the export, unlinking")
    func registerAndSignIn() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let providers = try await platform.request("GET", "/v1/auth/providers")
            #expect(providers.items.map { $0["name"] as? String } == ["Sandbox ID"], "\(providers.text)")
            let email = AccountsPlatform.email("social")
            let browser = Browser(platform)
            let (joinPage, callback) = try await browser.signIn(email: email)
            #expect(joinPage.status == 200 && joinPage.text.contains("Join with Sandbox ID") && joinPage.text.contains(email), "\(joinPage.text)")
            #expect(browser.cookies["social_state"] == nil && browser.cookies["social_ticket"] != nil, "\(browser.cookies.keys)")
            // The provider's answer again, with the state cookie it came with: taken once only.
            let state = try #require(URLComponents(string: callback)?.queryItems?.first { $0.name == "state" }?.value)
            let again = Reply(
                answer: try #require(await HTTP.request("GET", callback, headers: ["Cookie": "social_state=\(state)"], body: nil)))
            #expect(again.status == 409 && again.headers["set-cookie"]?.contains("session=") != true, "a callback is taken once: \(again.text)")

            let version = try await Self.policyVersion(platform)
            let tooShort = try await browser.post(
                "/auth/social/register",
                [("displayName", "Nova"), ("password", "short"), ("role", "member"), ("acceptPolicyVersion", version)])
            #expect(tooShort.status == 422 && tooShort.text.contains("password"), "the form again, with what is wrong: \(tooShort.text)")
            let ticket = try #require(browser.cookies["social_ticket"])
            let joined = try await browser.post(
                "/auth/social/register",
                [("displayName", "Nova"), ("password", AccountsPlatform.password), ("role", "member"), ("acceptPolicyVersion", version)])
            #expect(joined.status == 303 && joined.headers["location"] == "/welcome", "\(joined.status) \(joined.headers)")
            let token = try #require(browser.cookies["session"], "signed in: \(joined.headers)")
            let me = try await platform.request("GET", "/v1/me", token: token)
            #expect(me.object["email"] as? String == email && me.object["source"] as? String == "social:sandbox", "\(me.text)")
            // The ticket's cookie again (the browser dropped it): accounts has spent the ticket.
            let reused = try await OAuthEndToEndTests.post(
                platform.gateway + "/auth/social/register",
                [("displayName", "Nova"), ("password", AccountsPlatform.password), ("role", "member"), ("acceptPolicyVersion", version)],
                headers: ["Cookie": "social_ticket=\(ticket)"])
            #expect(reused.status == 409 && reused.text.contains("finished already"), "a ticket is used once: \(reused.text)")

            // Next time, in another browser: straight in, to where the sign-in started.
            let other = Browser(platform)
            let (signedIn, _) = try await other.signIn(email: email, name: "Nova S.")
            #expect(signedIn.status == 303 && signedIn.headers["location"] == "/welcome", "\(signedIn.status) \(signedIn.text)")
            let second = try #require(other.cookies["session"])
            #expect(second != token)
            let linked = try await platform.request("GET", "/v1/me/social-identities", token: second)
            #expect(linked.items.first?["provider"] as? String == "sandbox" && linked.items.first?["name"] as? String == "Nova S.", "\(linked.text)")
            let export = try await platform.request("GET", "/v1/me/export", token: second)
            let accounts = (export.object["sections"] as? [String: Any])?["accounts"] as? [String: Any]
            let received = (accounts?["socialIdentities"] as? [[String: Any]])?.first?["received"] as? [String: Any]
            let issuer = try #require(platform.payments).sandbox + "/oidc"
            #expect(received?["email"] as? String == email && received?["issuer"] as? String == issuer,
                    "what the provider sent is in the export: \(export.text.prefix(3000))")

            // Unlinked, the identity no longer opens the account: its password confirms a new link.
            let unlinked = try await platform.request("DELETE", "/v1/me/social-identities/sandbox", token: second)
            #expect(unlinked.status == 204)
            let (linkPage, _) = try await Browser(platform).signIn(email: email)
            #expect(linkPage.status == 200 && linkPage.text.contains("An account with \(email) exists"), "\(linkPage.text)")
        }
    }

    @Test("linking to an existing account takes its password; an unverified email links nothing; a start elsewhere is refused")
    func linking() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let email = AccountsPlatform.email("linker")
            _ = try await platform.register(email: email, displayName: "Lin Ker")
            let unverified = try await Browser(platform).signIn(email: email, verified: false).reply
            #expect(unverified.status == 409 && unverified.text.contains("did not confirm an email"), "\(unverified.text)")

            let browser = Browser(platform)
            let (page, _) = try await browser.signIn(email: email)
            #expect(page.status == 200 && page.text.contains("An account with \(email) exists"), "\(page.text)")
            let wrong = try await browser.post("/auth/social/link", [("password", "not the password at all")])
            #expect(wrong.status == 401 && browser.cookies["session"] == nil, "\(wrong.text)")
            let crossSite = try await OAuthEndToEndTests.post(
                platform.gateway + "/auth/social/link", [("password", AccountsPlatform.password)],
                headers: ["Cookie": "social_ticket=\(browser.cookies["social_ticket"] ?? "")", "Sec-Fetch-Site": "cross-site"])
            #expect(crossSite.status == 403, "only the gateway's own page posts this")
            let right = try await browser.post("/auth/social/link", [("password", AccountsPlatform.password)])
            #expect(right.status == 303 && browser.cookies["session"] != nil, "\(right.text)")
            let (signedIn, _) = try await Browser(platform).signIn(email: email)
            #expect(signedIn.status == 303, "linked: the provider signs the person in from now on: \(signedIn.text)")

            // The provider's answer arriving in a browser that did not start it (login CSRF), even
            // one with a sign-in of its own under way.
            let (_, callback) = try await Browser(platform).signIn(email: email)
            let stranger = Browser(platform)
            #expect(try await stranger.get(platform.gateway + "/auth/social/sandbox/start").status == 303)
            #expect(stranger.cookies["social_state"] != nil)
            let crossed = try await stranger.get(callback)
            #expect(crossed.status == 403 && crossed.headers["set-cookie"]?.contains("session=") != true, "\(crossed.text)")
            #expect(try await Browser(platform).get(callback).status == 403, "no state cookie at all")

            // Staff sign in with their password only.
            let staffEmail = AccountsPlatform.email("staff")
            try await platform.createAdmin(email: staffEmail, password: AccountsPlatform.password)
            let staff = try await Browser(platform).signIn(email: staffEmail).reply
            #expect(staff.status == 403 && staff.text.contains("staff accounts"), "\(staff.text)")
        }
    }

    @Test("ID tokens that do not verify are refused: forged, wrong or extra audience, expired, wrong or missing nonce, wrong issuer, unsigned, HMAC with the public key; ES256 verifies, beside keys to pass over")
    func refusals() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let email = AccountsPlatform.email("target")
            _ = try await platform.register(email: email, displayName: "Tar Get")
            let faults: [(String, String)] = [
                ("forged", "RS256"), ("forged", "ES256"), ("wrong-audience", "RS256"), ("extra-audience", "ES256"), ("expired", "RS256"),
                ("wrong-nonce", "RS256"), ("missing-nonce", "ES256"), ("wrong-issuer", "ES256"), ("unsigned", "RS256"),
                ("hmac-with-public-key", "RS256"),
            ]
            for (fault, algorithm) in faults {
                try await Self.nextToken(platform, #"{"fault": "\#(fault)", "algorithm": "\#(algorithm)"}"#)
                let (reply, _) = try await Browser(platform).signIn(email: email)
                #expect(
                    reply.status == 401 && reply.text.contains("could not be verified") && reply.headers["set-cookie"]?.contains("session=") != true
                        && reply.headers["set-cookie"]?.contains("social_ticket=") != true,
                    "\(fault) \(algorithm): \(reply.status) \(reply.text)")
            }
            try await Self.nextToken(platform, #"{"algorithm": "ES256"}"#)
            let (verified, _) = try await Browser(platform).signIn(email: email)
            #expect(verified.status == 200 && verified.text.contains("An account with \(email) exists"), "ES256 verifies: \(verified.text)")

            // Each start is kept a while: one address may start only so many a minute.
            var statuses: [Int] = []
            for _ in 0..<32 { statuses.append(try await Browser(platform).get(platform.gateway + "/auth/social/sandbox/start").status) }
            #expect(statuses.contains(429) && !statuses.contains { $0 != 303 && $0 != 429 }, "\(statuses)")
        }
    }
}
