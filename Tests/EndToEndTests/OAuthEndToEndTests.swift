import Foundation
import Models
import PlatformSecurity
import TestSupport
import Testing

/// User-granted access end to end: the consent page on the gateway, the code exchanged with PKCE,
/// the partner reading the person's profile on the integration port, refresh rotation, and the
/// person taking it back in their privacy center.
@Suite("OAuth end to end", .serialized, .timeLimit(.minutes(3)))
struct OAuthEndToEndTests {
    static let redirect = "https://app.horoscope.example/callback"

    /// `application/x-www-form-urlencoded` text of `fields` (also a query).
    static func encoded(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }

    static func form(_ fields: [(String, String)]) -> Data {
        Data(encoded(fields).utf8)
    }

    static func post(_ url: String, _ fields: [(String, String)], headers: [String: String] = [:]) async throws -> Reply {
        Reply(
            answer: try #require(
                await HTTP.request(
                    "POST", url, headers: headers.merging(["Content-Type": "application/x-www-form-urlencoded"]) { given, _ in given },
                    body: form(fields))))
    }

    /// The query of a 303's Location.
    static func redirectQuery(_ reply: Reply) -> [String: String] {
        let items = URLComponents(string: reply.headers["location"] ?? "")?.queryItems ?? []
        return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
    }

    @Test("the authorization code flow with PKCE: consent, tokens, the profile, rotation, reuse, revocation in the privacy center, DNT")
    func codeFlow() async throws {
        try await AccountsPlatform.with(payments: true) { platform in
            let integration = try #require(platform.payments).integration
            let admin = try await PartnersEndToEndTests.partner(platform)
            let key = try await PartnersEndToEndTests.makeKey(platform, admin: admin, scopes: ["users:read", "webhooks:manage"]).secret
            let receiver = try await WebhooksEndToEndTests.Receiver.start()
            defer { receiver.stop() }
            let hooks = WebhooksEndToEndTests.Partner(platform: platform, key: key)
            let endpoint = try await hooks.call(
                "POST", "/partner/v1/webhooks/endpoints", json: #"{"url": "\#(receiver.url)/hooks", "eventTypes": ["grant.revoked"]}"#)
            try await receiver.configure(secrets: [try #require(endpoint.object["secret"] as? String, "\(endpoint.text)")])
            let registered = try #require(
                await HTTP.request(
                    "PUT", integration + "/partner/v1/oauth/redirect-uris",
                    headers: ["Authorization": "Bearer \(key)", "Content-Type": "application/json"],
                    body: Data(#"{"redirectUris": ["\#(Self.redirect)"]}"#.utf8)))
            #expect(registered.status == 200, "\(String(decoding: registered.body, as: UTF8.self))")
            let email = AccountsPlatform.email("granter")
            _ = try await platform.register(email: email, displayName: "Stella Granter")

            let verifier = SecureRandom.token(bytes: 48)
            let challenge = Base64.encode(SHA256.hash(Data(verifier.utf8)), alphabet: .url)
            let query: [(String, String)] = [
                ("response_type", "code"), ("client_id", "horoscope-daily"), ("redirect_uri", Self.redirect), ("scope", "users:read"),
                ("state", "x+y/z="), ("code_challenge", challenge), ("code_challenge_method", "S256"),
            ]
            let page = try await platform.request("GET", "/oauth/authorize?" + Self.encoded(query))
            #expect(page.status == 200 && page.text.contains("Horoscope Daily") && page.text.contains("see your display name"), "\(page.text)")
            let stranger = try await platform.request("GET", "/oauth/authorize?" + Self.encoded(query.map { $0.0 == "redirect_uri" ? ($0.0, "https://evil.example/") : $0 }))
            #expect(stranger.status == 404 && stranger.headers["location"] == nil, "never sent to an unregistered address")
            let noPKCE = try await platform.request("GET", "/oauth/authorize?" + Self.encoded(query.filter { $0.0 != "code_challenge" }))
            #expect(noPKCE.status == 400 && noPKCE.headers["location"] == nil, "shown, not sent on before the person acts")
            #expect(page.headers["x-frame-options"] == "DENY" && page.headers["content-security-policy"] == "frame-ancestors 'none'")
            let framed = try await Self.post(
                platform.gateway + "/oauth/authorize", query + [("email", email), ("password", AccountsPlatform.password), ("decision", "allow")],
                headers: ["Sec-Fetch-Site": "cross-site"])
            #expect(framed.status == 403 && framed.headers["location"] == nil, "only the consent page itself answers")

            // DNT: nothing is shared, whatever the person clicks.
            let tracked = try await Self.post(
                platform.gateway + "/oauth/authorize", query + [("email", email), ("password", AccountsPlatform.password), ("decision", "allow")],
                headers: ["Sec-GPC": "1"])
            #expect(tracked.status == 303 && Self.redirectQuery(tracked)["error"] == "access_denied", "\(tracked.headers)")
            let wrong = try await Self.post(
                platform.gateway + "/oauth/authorize", query + [("email", email), ("password", "not the password at all"), ("decision", "allow")])
            #expect(wrong.status == 401 && wrong.text.contains("Allow"), "the page again, with the problem")

            let allowed = try await Self.post(
                platform.gateway + "/oauth/authorize", query + [("email", email), ("password", AccountsPlatform.password), ("decision", "allow")])
            #expect(allowed.status == 303 && Self.redirectQuery(allowed)["state"] == "x+y/z=", "the state comes back as sent: \(allowed.headers)")
            let code = try #require(Self.redirectQuery(allowed)["code"])

            let token = platform.gateway + "/oauth/token"
            let exchange: [(String, String)] = [
                ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect), ("client_id", "horoscope-daily"),
                ("client_secret", key),
            ]
            let badVerifier = try await Self.post(token, exchange + [("code_verifier", SecureRandom.token(bytes: 48))])
            #expect(badVerifier.status == 400 && badVerifier.object["error"] as? String == "invalid_grant", "\(badVerifier.text)")
            let embedding = try await PartnersEndToEndTests.makeKey(platform, admin: admin, scopes: ["directory:read"]).secret
            let embeddingKey = try await Self.post(token, exchange.map { $0.0 == "client_secret" ? ($0.0, embedding) : $0 } + [("code_verifier", verifier)])
            #expect(embeddingKey.status == 401 && embeddingKey.object["error"] as? String == "invalid_client", "only a users:read key is a client secret")
            let notTheClient = try await Self.post(token, exchange.map { $0.0 == "client_secret" ? ($0.0, "adv_live_wrong0000000000000000000") : $0 } + [("code_verifier", verifier)])
            #expect(notTheClient.status == 401 && notTheClient.object["error"] as? String == "invalid_client")
            let tokens = try await Self.post(token, exchange + [("code_verifier", verifier)])
            #expect(tokens.status == 200 && tokens.object["token_type"] as? String == "Bearer", "\(tokens.text)")
            let access = try #require(tokens.object["access_token"] as? String)
            let refresh = try #require(tokens.object["refresh_token"] as? String)
            let replayed = try await Self.post(token, exchange + [("code_verifier", verifier)])
            #expect(replayed.object["error"] as? String == "invalid_grant", "a code works once")

            func profile(_ accessToken: String) async throws -> Reply {
                Reply(answer: try #require(await HTTP.request("GET", integration + "/partner/v1/users/me", headers: ["Authorization": "Bearer \(accessToken)"], body: nil)))
            }
            // The replayed code revoked what it had given.
            #expect(try await profile(access).status == 401, "a replayed code revokes its tokens")

            // A fresh grant: consent (signed in this time with a session), tokens, the profile.
            let session = try await platform.signIn(email: email)
            let again = try await Self.post(
                platform.gateway + "/oauth/authorize", query + [("decision", "allow")], headers: ["Authorization": "Bearer \(session)"])
            let second = try await Self.post(
                token, [("grant_type", "authorization_code"), ("code", try #require(Self.redirectQuery(again)["code"])),
                    ("redirect_uri", Self.redirect), ("code_verifier", verifier)],
                headers: ["Authorization": "Basic " + Data("horoscope-daily:\(key)".utf8).base64EncodedString()])
            let access2 = try #require(second.object["access_token"] as? String, "\(second.text)")
            let refresh2 = try #require(second.object["refresh_token"] as? String)
            let me = try await profile(access2)
            #expect(me.status == 200 && me.object["displayName"] as? String == "Stella Granter" && me.object["email"] == nil, "\(me.text)")
            #expect((me.object["subject"] as? String)?.count == 32)
            _ = refresh

            // Rotation: a refresh token gives a new pair once; used again, the whole family dies.
            let rotated = try await Self.post(token, [("grant_type", "refresh_token"), ("refresh_token", refresh2), ("client_id", "horoscope-daily"), ("client_secret", key)])
            let access3 = try #require(rotated.object["access_token"] as? String, "\(rotated.text)")
            #expect(try await profile(access3).status == 200)
            let reused = try await Self.post(token, [("grant_type", "refresh_token"), ("refresh_token", refresh2), ("client_id", "horoscope-daily"), ("client_secret", key)])
            #expect(reused.object["error"] as? String == "invalid_grant")
            #expect(try await profile(access3).status == 401, "reuse of a rotated refresh token revokes the family")

            // The person sees the grant and the partner's reads, and takes the grant back: refused at once.
            let third = try await Self.post(
                platform.gateway + "/oauth/authorize", query + [("decision", "allow")], headers: ["Authorization": "Bearer \(session)"])
            let fresh = try await Self.post(
                token, [("grant_type", "authorization_code"), ("code", try #require(Self.redirectQuery(third)["code"])),
                    ("redirect_uri", Self.redirect), ("code_verifier", verifier), ("client_id", "horoscope-daily"), ("client_secret", key)])
            let access4 = try #require(fresh.object["access_token"] as? String, "\(fresh.text)")
            #expect(try await profile(access4).status == 200)
            let grants = try await platform.request("GET", "/v1/me/grants", token: session)
            #expect(grants.items.map { $0["partnerId"] as? String } == ["horoscope-daily"], "\(grants.text)")
            let log = try await platform.request("GET", "/v1/me/access-log", token: session)
            let reads = log.items.filter { $0["partnerId"] as? String == "horoscope-daily" && $0["action"] as? String == "partner-access.profile" }
            #expect(reads.compactMap { $0["reads"] as? Int }.reduce(0, +) == 3, "every read is counted, the refused ones not: \(log.text)")
            let consents = try await platform.request("GET", "/v1/me/consents", token: session)
            #expect((consents.object["partners"] as? [String: Bool])?["horoscope-daily"] == true, "the grant is the consent: \(consents.text)")
            let export = try await platform.request("GET", "/v1/me/export", token: session)
            let accounts = (export.object["sections"] as? [String: Any])?["accounts"] as? [String: Any]
            #expect((accounts?["partnerGrants"] as? [[String: Any]])?.contains { $0["partnerId"] as? String == "horoscope-daily" } == true, "\(export.text.prefix(2000))")
            #expect(
                (accounts?["partnerAccesses"] as? [[String: Any]])?.compactMap { $0["reads"] as? Int }.reduce(0, +) == 3,
                "who received the data, and how often, is in the export")
            #expect(try await platform.request("DELETE", "/v1/me/grants/horoscope-daily", token: session).status == 204)
            #expect(try await profile(access4).status == 401, "withdrawn: refused at once")
            let subject = try #require(me.object["subject"] as? String)
            try await eventually("the partner is told") {
                try await receiver.received().contains { $0["type"] as? String == "grant.revoked" && ($0["data"] as? [String: Any])?["subject"] as? String == subject }
            }
            #expect(try await platform.request("GET", "/v1/me/grants", token: session).items.isEmpty)
            let after = try await platform.request("GET", "/v1/me/consents", token: session)
            #expect((after.object["partners"] as? [String: Bool])?["horoscope-daily"] == false)

            let metadata = try await platform.request("GET", "/.well-known/oauth-authorization-server")
            #expect(metadata.object["token_endpoint"] as? String == platform.gateway + "/oauth/token", "\(metadata.text)")
            #expect(metadata.object["code_challenge_methods_supported"] as? [String] == ["S256"])
        }
    }
}
