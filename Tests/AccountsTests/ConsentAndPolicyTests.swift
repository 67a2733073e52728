import Foundation
import Models
import Store
import Testing

@Suite("Consents and policy")
struct ConsentAndPolicyTests {
    @Test("consents default to off, changes are kept with time, source and policy version, newest first")
    func consentsAndHistory() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "c@example.com")
            _ = try await accounts.call(Accounts.RegisterPartner.self, .init(id: "astro-feed", name: "Astro Feed"), as: try await accounts.admin())
            let caller = try await accounts.caller(try await accounts.signIn("c@example.com").token)
            let initial = try await accounts.call(Accounts.GetConsents.self, .init(), as: caller)
            #expect(initial == Accounts.Consents(
                performanceCookies: false, functionalityCookies: false, marketingEmail: false, marketingSms: false,
                partners: [:], policyVersion: "2017-07-09"))
            let set = try await accounts.call(
                Accounts.SetConsents.self,
                .init(performanceCookies: true, marketingSms: true, partners: ["astro-feed": true], source: .settings), as: caller)
            #expect(set.performanceCookies && set.marketingSms && set.partners == ["astro-feed": true])
            #expect(!set.functionalityCookies)
            // SMS STOP arrives through the platform, for the account it names.
            let stopped = try await accounts.call(
                Accounts.SetConsents.self, .init(marketingSms: false, source: .smsStop, accountId: caller.accountId), as: .system)
            #expect(!stopped.marketingSms)
            let history = try await accounts.call(Accounts.ConsentHistory.self, PageRequest(limit: 100), as: caller)
            #expect(history.items.first == Accounts.ConsentChange(
                consent: "marketingSms", granted: false, source: .smsStop, policyVersion: "2017-07-09",
                changedAt: history.items[0].changedAt))
            #expect(Set(history.items.map(\.consent)).isSuperset(of: ["performanceCookies", "marketingSms", "partner:astro-feed", "marketingEmail"]))
            #expect(history.items.last?.source == .registration)
            // Nobody but the platform sets another person's consents; the answer does not reveal the account.
            let stranger = try await accounts.register(email: "s@example.com")
            let strangerCaller = try await accounts.caller(try await accounts.signIn("s@example.com").token)
            #expect(stranger.id != caller.accountId)
            let refused = await accounts.failure(
                Accounts.SetConsents.self, .init(marketingEmail: true, source: .settings, accountId: caller.accountId), as: strangerCaller)
            #expect(refused?.code == .notFound)
        }
    }

    @Test("partner consents name registered partners only, at most 100 a request; only an admin registers a partner, audited")
    func partnerConsents() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "p@example.com")
            let caller = try await accounts.caller(try await accounts.signIn("p@example.com").token)
            let made = await accounts.failure(Accounts.SetConsents.self, .init(partners: ["made-up": true], source: .settings), as: caller)
            #expect(made?.code == .validationFailed)
            #expect(made?.fieldErrors == [FieldError(field: "partners", code: "unknown_partner")])
            let many = Dictionary(uniqueKeysWithValues: (0..<5000).map { ("p\($0)", true) })
            let flood = await accounts.failure(Accounts.SetConsents.self, .init(partners: many, source: .settings), as: caller)
            #expect(flood?.fieldErrors == [FieldError(field: "partners", code: "too_many")])

            #expect(await accounts.failure(Accounts.RegisterPartner.self, .init(id: "sneaky", name: "S"), as: caller)?.code == .forbidden)
            let admin = try await accounts.admin()
            for bad in ["", "Upper", "-lead", "has space", String(repeating: "a", count: 64)] {
                let refused = await accounts.failure(Accounts.RegisterPartner.self, .init(id: bad, name: "X"), as: admin)
                #expect(refused?.fieldErrors.first?.field == "id", "\(bad)")
            }
            let partner = try await accounts.call(Accounts.RegisterPartner.self, .init(id: "daily-stars", name: "Daily Stars"), as: admin)
            #expect(partner.id == "daily-stars")
            let again = await accounts.failure(Accounts.RegisterPartner.self, .init(id: "daily-stars", name: "Again"), as: admin)
            #expect(again?.code.rawValue == "partner_exists")
            #expect(try await accounts.call(Accounts.ListPartners.self, Empty()).items.map(\.id) == ["daily-stars"])

            let audited = { @Sendable () async throws -> [String] in
                try await accounts.database.withConnection { connection in
                    try connection.query("SELECT action FROM audit_log ORDER BY seq").map { try $0.decode("action", as: String.self) }
                }
            }
            let before = try await audited()
            let set = try await accounts.call(
                Accounts.SetConsents.self,
                .init(performanceCookies: true, marketingEmail: true, partners: ["daily-stars": true], source: .settings), as: caller)
            #expect(set.partners == ["daily-stars": true])
            // Three changes, one audit entry for the request.
            #expect(try await audited() == before + ["consent.change"])
            #expect(before.contains("partner.register"))
        }
    }

    @Test("a new policy version is asked for until accepted; only legal and admin publish")
    func policyReacceptance() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "p@example.com")
            let session = try await accounts.signIn("p@example.com")
            let caller = try await accounts.caller(session.token)
            let next = Accounts.PolicyVersion(version: "2026-12-01", effectiveDate: Date(timeIntervalSince1970: 1_796_083_200))
            #expect(await accounts.failure(Accounts.PublishPolicy.self, next, as: caller)?.code == .forbidden)
            let admin = try await accounts.admin()
            let published = try await accounts.call(Accounts.PublishPolicy.self, next, as: admin)
            #expect(published == next)
            #expect(try await accounts.call(Accounts.CurrentPolicy.self, Empty()) == next)
            let before = try await accounts.call(Accounts.Authenticate.self, .init(token: session.token))
            #expect(before.acceptedPolicyVersion == "2017-07-09")
            #expect(before.currentPolicyVersion == "2026-12-01")
            let stale = await accounts.failure(Accounts.AcceptPolicy.self, .init(version: "2017-07-09"), as: caller)
            #expect(stale?.fieldErrors == [FieldError(field: "version", code: "policy_version_mismatch")])
            _ = try await accounts.call(Accounts.AcceptPolicy.self, .init(version: "2026-12-01"), as: caller)
            let after = try await accounts.call(Accounts.Authenticate.self, .init(token: session.token))
            #expect(after.acceptedPolicyVersion == after.currentPolicyVersion)
            // New consent changes carry the version in force.
            let consents = try await accounts.call(Accounts.SetConsents.self, .init(functionalityCookies: true, source: .settings), as: caller)
            #expect(consents.policyVersion == "2026-12-01")
        }
    }
}
