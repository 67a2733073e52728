import Bus
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Models
import ServiceKit
import Testing
import TestSupport

/// Who the gateway says is asking: tokens in a header or a cookie, revocation, the policy reminder
/// and the privacy signals, as the accounts service (a stand-in here) sees them.
@Suite(.timeLimit(.minutes(1)))
struct AuthenticationTests {
    @Test("a signed-in route answers 401 without a token and with an unknown one")
    func unauthenticated() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            try await client.execute(uri: "/v1/me", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(Body.problem(response)?.code == "unauthenticated")
            }
            try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer forged"]) { response in
                #expect(response.status == .unauthorized)
                #expect(Body.problem(response)?.code == "unauthenticated")
            }
            // Another scheme, no token, or no space after the scheme: no token at all.
            for authorization in ["Basic \(GatewayFixture.goodToken)", "Bearer ", "Bearer", "Bearer\(GatewayFixture.goodToken)"] {
                try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: authorization]) { response in
                    #expect(response.status == .unauthorized, "\(authorization)")
                }
            }
            try await client.execute(uri: "/v1/me/export", method: .get, headers: [.cookie: "session=forged"]) { response in
                #expect(response.status == .unauthorized)
            }
        }
        #expect(fixture.accounts.caller(of: Accounts.Me.name) == nil, "no route ran without a session")
    }

    @Test("a Bearer token and the session cookie both sign the request in, with the account's identity forwarded")
    func bearerAndCookie() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            for headers: HTTPFields in [
                [.authorization: "Bearer \(GatewayFixture.goodToken)"],
                [.authorization: "bearer \(GatewayFixture.goodToken)"],
                [.authorization: "BEARER  \t\(GatewayFixture.goodToken) "],
                [.cookie: "theme=dark; session=\(GatewayFixture.goodToken)"],
            ] {
                try await client.execute(uri: "/v1/me", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                    let account = try Body.decode(Accounts.Account.self, response)
                    #expect(account.id == GatewayFixture.member)
                }
            }
        }
        let caller = try #require(fixture.accounts.caller(of: Accounts.Me.name))
        #expect(caller.accountId == GatewayFixture.member)
        #expect(caller.roles == [.member])
        #expect(caller.doNotTrack == false)
    }

    @Test("DNT: 1 or Sec-GPC: 1 marks the forwarded caller as not to be tracked")
    func privacySignals() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        let bearer = "Bearer \(GatewayFixture.goodToken)"
        try await fixture.test { client in
            for (signal, expected) in [("DNT", true), ("Sec-GPC", true), ("X-Nothing", false)] {
                let headers: HTTPFields = [.authorization: bearer, HTTPField.Name(signal)!: "1"]
                try await client.execute(uri: "/v1/me", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                }
                #expect(fixture.accounts.caller(of: Accounts.Me.name)?.doNotTrack == expected, "\(signal)")
            }
            let headers: HTTPFields = [.authorization: bearer, HTTPField.Name("DNT")!: "0"]
            try await client.execute(uri: "/v1/me", method: .get, headers: headers) { _ in }
            #expect(fixture.accounts.caller(of: Accounts.Me.name)?.doNotTrack == false)
        }
    }

    @Test("a newer policy puts Policy-Acceptance-Required on every response until it is accepted")
    func policyReminder() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        let signedIn: HTTPFields = [.authorization: "Bearer \(GatewayFixture.goodToken)", .contentType: "application/json"]
        let header = HTTPField.Name("Policy-Acceptance-Required")!
        try await fixture.test { client in
            try await client.execute(uri: "/v1/me", method: .get, headers: signedIn) { response in
                #expect(response.headers[header] == nil)
            }
            fixture.accounts.publishNewerPolicy()
            try await Eventually.wait(timeout: .seconds(5), "the reminder appears") {
                try await client.execute(uri: "/v1/me", method: .get, headers: signedIn) { response in
                    response.headers[header] == GatewayFixture.currentPolicy
                }
            }
            try await client.execute(uri: "/v1/nothing-here", method: .get, headers: signedIn) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[header] == GatewayFixture.currentPolicy, "error answers carry it too")
            }
            try await client.execute(
                uri: "/v1/me/policy-acceptances", method: .post, headers: signedIn, body: Body.json(#"{"version": "1999-01"}"#)
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect(Body.problem(response)?.errors == [FieldError(field: "version", code: "not_current")])
                #expect(response.headers[header] == GatewayFixture.currentPolicy)
            }
            try await client.execute(
                uri: "/v1/me/policy-acceptances", method: .post, headers: signedIn,
                body: Body.json(#"{"version": "\#(GatewayFixture.currentPolicy)"}"#)
            ) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[header] == nil)
            }
            try await client.execute(uri: "/v1/me", method: .get, headers: signedIn) { response in
                #expect(response.headers[header] == nil)
            }
        }
    }

    @Test("sign-out through the gateway ends the token at once; a token revoked elsewhere ends within seconds")
    func revocation() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        let signedIn: HTTPFields = [.authorization: "Bearer \(GatewayFixture.goodToken)", .contentType: "application/json"]
        try await fixture.test { client in
            try await client.execute(uri: "/v1/me", method: .get, headers: signedIn) { response in
                #expect(response.status == .ok)
            }
            fixture.accounts.revokeElsewhere(GatewayFixture.goodToken)
            let revokedAt = ContinuousClock.now
            try await Eventually.wait(timeout: .seconds(5), "the revoked token is refused") {
                try await client.execute(uri: "/v1/me", method: .get, headers: signedIn) { $0.status == .unauthorized }
            }
            #expect(revokedAt.duration(to: .now) < .seconds(3))
        }
    }

    @Test("sign-in sets the session cookie; sign-out clears it and the token is refused on the next request")
    func signInAndOut() async throws {
        let fixture = try await GatewayFixture()
        try await fixture.startAccounts()
        try await fixture.test { client in
            try await client.execute(
                uri: "/v1/sessions", method: .post, headers: [.userAgent: "TestBrowser/1.0", .contentType: "application/json"],
                body: Body.json(#"{"email": "ada@example.com", "password": "correct horse"}"#)
            ) { response in
                #expect(response.status == .created)
                let session = try Body.decode(Accounts.SignIn.Response.self, response)
                #expect(session.token == GatewayFixture.goodToken)
                let cookie = try #require(response.headers[.setCookie])
                #expect(cookie.hasPrefix("session=\(GatewayFixture.goodToken)"))
                for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
                    #expect(cookie.contains(attribute), "\(attribute)")
                }
                #expect(!cookie.contains("Secure"), "no Secure flag without TLS")
            }
            #expect(fixture.accounts.signIns.last?.userAgent == "TestBrowser/1.0")
            #expect(fixture.accounts.signIns.last?.ipAddress.isEmpty == false)
            let signedIn: HTTPFields = [.cookie: "session=\(GatewayFixture.goodToken)", .contentType: "application/json"]
            try await client.execute(uri: "/v1/me", method: .get, headers: signedIn) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/sessions/current", method: .delete, headers: signedIn) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
            try await client.execute(uri: "/v1/me", method: .get, headers: signedIn) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }
}
