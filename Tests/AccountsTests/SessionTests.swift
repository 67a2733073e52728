import Foundation
import Models
import Store
import Testing
import TestSupport
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

    /// Wrong-password sign-ins for `email`, one from each address; returns the error codes.
    static func failSignIns(_ accounts: AccountsFixture, email: String, from addresses: [String]) async -> [String] {
        var codes: [String] = []
        for (attempt, address) in addresses.enumerated() {
            let error = await accounts.failure(
                Accounts.SignIn.self,
                .init(email: email, password: "guess number \(attempt)", ipAddress: address, userAgent: "bot"))
            codes.append(error?.code.rawValue ?? "ok")
        }
        return codes
    }

    @Test("ten failures from one address for one email refuse the next at once, with a retry time; the owner elsewhere still signs in")
    func rateLimitPerAddressAndEmail() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "victim@example.com")
            let codes = await Self.failSignIns(accounts, email: "victim@example.com", from: Array(repeating: "203.0.113.9", count: 10))
            #expect(codes == Array(repeating: "invalid_credentials", count: 10))
            // Even the right password is refused from that address, and the email's case does not matter.
            let limited = await accounts.failure(
                Accounts.SignIn.self,
                .init(email: "VICTIM@example.com", password: AccountsFixture.defaultPassword, ipAddress: "203.0.113.9", userAgent: "bot"))
            #expect(limited?.code.rawValue == "rate_limited")
            let retry = try #require(limited?.retryAfterSeconds)
            #expect(retry > 0 && retry <= 900)
            // The attacker's address did not lock the person out from their own.
            _ = try await accounts.signIn("victim@example.com", ip: "198.51.100.20")
            // Nor another person behind the attacker's address.
            try await accounts.register(email: "neighbour@example.com")
            _ = try await accounts.signIn("neighbour@example.com", ip: "203.0.113.9")
        }
    }

    @Test("guessing one email from many addresses is refused past the per-email limit")
    func rateLimitPerEmail() async throws {
        let limits = AttemptLimits(signInsPerEmail: .init(5, per: 900))
        try await AccountsFixture.with(settings: try AccountsFixture.settings(limits: limits)) { accounts in
            try await accounts.register(email: "target@example.com")
            let codes = await Self.failSignIns(
                accounts, email: "target@example.com", from: (1...6).map { "192.0.2.\($0)" })
            #expect(codes == Array(repeating: "invalid_credentials", count: 5) + ["rate_limited"])
        }
    }

    @Test("spraying many emails from one address is refused past the per-address ceiling; an IPv6 /64 counts as one address")
    func rateLimitPerAddress() async throws {
        let limits = AttemptLimits(signInsPerAddress: .init(4, per: 900))
        try await AccountsFixture.with(settings: try AccountsFixture.settings(limits: limits)) { accounts in
            for attempt in 0..<4 {
                let codes = await Self.failSignIns(
                    accounts, email: "spray\(attempt)@example.com", from: ["2001:db8:1:2::\(attempt + 1)"])
                #expect(codes == ["invalid_credentials"])
            }
            try await accounts.register(email: "innocent@example.com")
            let limited = await accounts.failure(
                Accounts.SignIn.self,
                .init(email: "innocent@example.com", password: AccountsFixture.defaultPassword,
                      ipAddress: "2001:db8:1:2:ffff::99", userAgent: "bot"))
            #expect(limited?.code.rawValue == "rate_limited")
            // The next /64 is another subscriber.
            _ = try await accounts.signIn("innocent@example.com", ip: "2001:db8:1:3::1")
        }
    }

    @Test("a successful sign-in gives its count back, so a person who signs in often is never refused")
    func successesAreNotCounted() async throws {
        let limits = AttemptLimits(signInsPerAddressAndEmail: .init(3, per: 900))
        try await AccountsFixture.with(settings: try AccountsFixture.settings(limits: limits)) { accounts in
            try await accounts.register(email: "regular@example.com")
            for _ in 0..<6 { _ = try await accounts.signIn("regular@example.com", ip: "192.0.2.77") }
        }
    }

    @Test("a burst of simultaneous attempts on one key is counted exactly: no more pass than the limit")
    func concurrentAttemptsDoNotOvershoot() async throws {
        try await withTestDatabase(schema: "accounts") { testDatabase in
            let database = Database(testDatabase.config(poolSize: 16), logger: AccountsFixture.quiet)
            try await AccountsCommands.migrate(database, settings: try AccountsFixture.settings())
            let key = AttemptThrottle.Key("test", "burst", limit: .init(10, per: 900), secret: Data("test".utf8))
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<48 {
                    group.addTask {
                        do {
                            try await database.withConnection { try AttemptThrottle.count([key], on: $0) }
                            return true
                        } catch { return false }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            await database.close()
            #expect(outcomes.filter { $0 }.count == 10)
        }
    }

    @Test("attempt counters keep no email or address in clear, and the history keeps no attempt for an unknown email")
    func countersKeepNoPersonalData() async throws {
        try await AccountsFixture.with { accounts in
            _ = await Self.failSignIns(accounts, email: "ghost@example.com", from: ["192.0.2.200"])
            let (keys, attempts) = try await accounts.database.withConnection { connection in
                (
                    try connection.query("SELECT key FROM attempt_counters").map { try $0.decode("key", as: Data.self) },
                    try connection.queryOne("SELECT count(*) AS n FROM sign_in_attempts")?.decode("n", as: Int.self)
                )
            }
            #expect(keys.count == 3)
            for key in keys {
                let text = String(decoding: key, as: UTF8.self)
                #expect(!text.contains("ghost") && !text.contains("192.0.2.200"))
            }
            #expect(attempts == 0)
        }
    }

    @Test("registrations from one address are limited, and so are wrong current passwords for one account")
    func costlyAttemptsThrottled() async throws {
        let limits = AttemptLimits(registrationsPerAddress: .init(2, per: 3600), passwordChecksPerAccount: .init(2, per: 900))
        try await AccountsFixture.with(settings: try AccountsFixture.settings(limits: limits)) { accounts in
            let policy = try await accounts.call(Accounts.CurrentPolicy.self, Empty()).version
            /// nil when the registration succeeds, else its error code.
            func register(_ email: String) async -> String? {
                do {
                    _ = try await accounts.call(
                        Accounts.Register.self,
                        .init(email: email, password: AccountsFixture.defaultPassword, displayName: "R", role: "member",
                              acceptPolicyVersion: policy, ipAddress: "198.51.100.30"))
                    return nil
                } catch {
                    return (error as? ServiceError)?.code.rawValue ?? "\(error)"
                }
            }
            #expect(await register("r1@example.com") == nil)
            #expect(await register("r2@example.com") == nil)
            #expect(await register("r3@example.com") == "rate_limited")

            let session = try await accounts.signIn("r1@example.com")
            let caller = try await accounts.caller(session.token)
            for _ in 0..<2 {
                let wrong = await accounts.failure(
                    Accounts.UpdateProfile.self, .init(password: "a brand new password", currentPassword: "not it at all"), as: caller)
                #expect(wrong?.fieldErrors.first?.field == "currentPassword")
            }
            let limited = await accounts.failure(
                Accounts.UpdateProfile.self,
                .init(password: "a brand new password", currentPassword: AccountsFixture.defaultPassword), as: caller)
            #expect(limited?.code.rawValue == "rate_limited")
            let erasure = await accounts.failure(
                Accounts.RequestErasure.self, .init(password: AccountsFixture.defaultPassword), as: caller)
            #expect(erasure?.code.rawValue == "rate_limited")
        }
    }

    @Test("a NUL character in any text of a request is refused as bad_request and changes nothing")
    func nulRefused() async throws {
        try await AccountsFixture.with { accounts in
            let error = await accounts.failure(
                Accounts.SignIn.self, .init(email: "a\u{0}@example.com", password: "whatever12", ipAddress: "192.0.2.1", userAgent: "t"))
            #expect(error?.code == .badRequest)
            let rows = try await accounts.database.withConnection { connection in
                try connection.queryOne("SELECT count(*) AS n FROM attempt_counters")?.decode("n", as: Int.self)
            }
            #expect(rows == 0)
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
