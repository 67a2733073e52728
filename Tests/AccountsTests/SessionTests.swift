import Foundation
import Models
import Store
import Testing
@testable import AccountsService

@Suite("Sign-in and sessions")
struct SessionTests {
    @Test("a token works, signing out revokes it at once, and an expired token fails")
    func tokens() async throws {
        try await AccountsFixture.with { accounts in
            let account = try await accounts.register(email: "tok@example.com")
            let session = try await accounts.signIn("tok@example.com")
            #expect(session.account.id == account.id)
            #expect(session.expiresAt > Date().addingTimeInterval(29 * 24 * 3600))
            let who = try await accounts.call(Accounts.Authenticate.self, .init(token: session.token))
            #expect(who.accountId == account.id)
            #expect(who.roles == ["member"])
            #expect(who.acceptedPolicyVersion == who.currentPolicyVersion)

            _ = try await accounts.call(Accounts.SignOut.self, .init(token: session.token))
            #expect(await accounts.failure(Accounts.Authenticate.self, .init(token: session.token))?.code == .unauthenticated)

            let other = try await accounts.signIn("tok@example.com")
            let hash = AccountsHandlers.tokenHash(other.token)
            _ = try await accounts.database.withConnection { connection in
                try connection.execute("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", hash)
            }
            #expect(await accounts.failure(Accounts.Authenticate.self, .init(token: other.token))?.code == .unauthenticated)
            #expect(await accounts.failure(Accounts.Authenticate.self, .init(token: "made-up"))?.code == .unauthenticated)
        }
    }

    @Test("tokens are stored only as SHA-256 hashes")
    func onlyHashesStored() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "hash@example.com")
            let session = try await accounts.signIn("hash@example.com")
            let stored = try await accounts.database.withConnection { connection in
                try connection.query("SELECT token_hash FROM sessions").map { try $0.decode("token_hash", as: Data.self) }
            }
            #expect(stored == [AccountsHandlers.tokenHash(session.token)])
            #expect(!stored.contains(Data(session.token.utf8)))
        }
    }

    @Test("unknown email and wrong password give the same invalid_credentials, in about the same time")
    func sameAnswer() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "same@example.com")
            let clock = ContinuousClock()
            var wrong: ServiceError?
            var unknown: ServiceError?
            let wrongTime = await clock.measure {
                wrong = await accounts.failure(
                    Accounts.SignIn.self, .init(email: "same@example.com", password: "not the password", ipAddress: "198.51.100.1", userAgent: "t"))
            }
            // The first unknown email makes the dummy hash; the second is timed.
            _ = await accounts.failure(
                Accounts.SignIn.self, .init(email: "nobody0@example.com", password: "whatever12", ipAddress: "198.51.100.2", userAgent: "t"))
            let unknownTime = await clock.measure {
                unknown = await accounts.failure(
                    Accounts.SignIn.self, .init(email: "nobody@example.com", password: "not the password", ipAddress: "198.51.100.3", userAgent: "t"))
            }
            #expect(wrong?.code.rawValue == "invalid_credentials")
            #expect(wrong == unknown)
            // Both paths run one scrypt verification, so the difference is noise, not a whole hash;
            // on a loaded machine the noise can reach a good part of one call.
            let slower = max(wrongTime, unknownTime) / .milliseconds(1)
            #expect(abs((wrongTime - unknownTime) / .milliseconds(1)) < max(250, slower / 2))
        }
    }

    @Test("repeated failures for one email slow down, then answer rate_limited with a retry time")
    func rateLimitByEmail() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "victim@example.com")
            for attempt in 0..<10 {
                let error = await accounts.failure(
                    Accounts.SignIn.self,
                    .init(email: "victim@example.com", password: "guess number \(attempt)", ipAddress: "203.0.113.\(attempt)", userAgent: "bot"))
                #expect(error?.code.rawValue == "invalid_credentials")
            }
            let limited = await accounts.failure(
                Accounts.SignIn.self,
                .init(email: "VICTIM@example.com", password: AccountsFixture.defaultPassword, ipAddress: "203.0.113.99", userAgent: "bot"))
            #expect(limited?.code.rawValue == "rate_limited")
            let retry = try #require(limited?.retryAfterSeconds)
            #expect(retry > 0 && retry <= 900)
        }
    }

    @Test("repeated failures from one address across many emails answer rate_limited")
    func rateLimitByAddress() async throws {
        try await AccountsFixture.with { accounts in
            for attempt in 0..<10 {
                _ = await accounts.failure(
                    Accounts.SignIn.self,
                    .init(email: "spray\(attempt)@example.com", password: "password123", ipAddress: "203.0.113.7", userAgent: "bot"))
            }
            try await accounts.register(email: "innocent@example.com")
            let limited = await accounts.failure(
                Accounts.SignIn.self,
                .init(email: "innocent@example.com", password: AccountsFixture.defaultPassword, ipAddress: "203.0.113.7", userAgent: "bot"))
            #expect(limited?.code.rawValue == "rate_limited")
            // Another address is not affected.
            _ = try await accounts.signIn("innocent@example.com", ip: "192.0.2.55")
        }
    }

    @Test("the sign-in history shows time, address, user agent and outcome, newest first, in pages")
    func history() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "hist@example.com")
            _ = await accounts.failure(
                Accounts.SignIn.self, .init(email: "hist@example.com", password: "wrong password", ipAddress: "192.0.2.9", userAgent: "phone"))
            _ = try await accounts.signIn("hist@example.com", ip: "192.0.2.10")
            let latest = try await accounts.signIn("hist@example.com", ip: "192.0.2.11")
            let caller = try await accounts.caller(latest.token)
            let first = try await accounts.call(Accounts.SignInHistory.self, PageRequest(limit: 2), as: caller)
            #expect(first.items.map(\.ipAddress) == ["192.0.2.11", "192.0.2.10"])
            #expect(first.items.allSatisfy { $0.succeeded })
            let cursor = try #require(first.nextCursor)
            let second = try await accounts.call(Accounts.SignInHistory.self, PageRequest(limit: 2, cursor: cursor), as: caller)
            #expect(second.items == [Accounts.SignInRecord(at: second.items[0].at, ipAddress: "192.0.2.9", userAgent: "phone", succeeded: false)])
            #expect(second.nextCursor == nil)
            #expect(await accounts.failure(Accounts.SignInHistory.self, PageRequest(limit: 101), as: caller)?.code == .validationFailed)
            #expect(await accounts.failure(Accounts.SignInHistory.self, PageRequest(), as: .anonymous)?.code == .unauthenticated)
        }
    }
}
