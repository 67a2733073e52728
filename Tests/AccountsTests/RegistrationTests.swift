import Foundation
import Models
import Testing

@Suite("Registration")
struct RegistrationTests {
    @Test("a member registers, accepting the current policy, and reads their own account back")
    func registers() async throws {
        try await AccountsFixture.with { accounts in
            let account = try await accounts.register(
                email: "  Ada@Example.COM ", marketing: true, referral: "friend-42", country: "FR")
            #expect(account.email == "Ada@Example.COM")
            #expect(account.roles == ["member"])
            #expect(account.role == "member")
            #expect(account.country == "FR")
            #expect(account.source == "friend-42")
            #expect(account.policyVersion == "2017-07-09")
            let session = try await accounts.signIn("ada@example.com")
            let me = try await accounts.call(Accounts.Me.self, Empty(), as: try await accounts.caller(session.token))
            #expect(me == account)
            let consents = try await accounts.call(Accounts.GetConsents.self, .init(), as: try await accounts.caller(session.token))
            #expect(consents.marketingEmail)
            #expect(!consents.performanceCookies)
        }
    }

    @Test("an email is unique whatever its case: email_taken")
    func duplicateEmail() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "grace@example.com")
            let policy = try await accounts.policy()
            let error = await accounts.failure(
                Accounts.Register.self,
                .init(email: "GRACE@Example.com", password: AccountsFixture.defaultPassword, displayName: "G", role: "advisor",
                      acceptPolicyVersion: policy))
            #expect(error?.code.rawValue == "email_taken")
        }
    }

    @Test("one visible address is one account: NFC and NFD spellings, and case, name the same email")
    func unicodeEmails() async throws {
        try await AccountsFixture.with { accounts in
            let composed = "jos\u{E9}@example.com"
            let decomposed = "jose\u{301}@example.com"
            // Swift's == calls them equal; their bytes, which PostgreSQL compares, differ.
            #expect(Array(composed.utf8) != Array(decomposed.utf8))
            let account = try await accounts.register(email: composed)
            #expect(account.email == composed)
            let taken = await accounts.failure(
                Accounts.Register.self,
                .init(email: "JOSE\u{301}@EXAMPLE.COM", password: AccountsFixture.defaultPassword, displayName: "J", role: "member",
                      acceptPolicyVersion: try await accounts.policy()))
            #expect(taken?.code.rawValue == "email_taken")
            #expect(try await accounts.signIn(decomposed).account.id == account.id)
            // Full case folding: ß and SS are one letter pair.
            try await accounts.register(email: "stra\u{DF}e@example.com")
            let folded = await accounts.failure(
                Accounts.Register.self,
                .init(email: "STRASSE@example.com", password: AccountsFixture.defaultPassword, displayName: "S", role: "member",
                      acceptPolicyVersion: try await accounts.policy()))
            #expect(folded?.code.rawValue == "email_taken")
        }
    }

    @Test("short, overlong and common passwords, bad emails, names, countries and roles are refused with field errors")
    func validation() async throws {
        try await AccountsFixture.with { accounts in
            let policy = try await accounts.policy()
            func fieldCodes(_ request: Accounts.Register.Request) async -> [String: String] {
                let error = await accounts.failure(Accounts.Register.self, request)
                #expect(error?.code == .validationFailed)
                return Dictionary((error?.fieldErrors ?? []).map { ($0.field, $0.code) }) { first, _ in first }
            }
            let good = Accounts.Register.Request(
                email: "ok@example.com", password: AccountsFixture.defaultPassword, displayName: "Ok", role: "member",
                acceptPolicyVersion: policy)
            var request = good
            request.password = "short1234"
            #expect(await fieldCodes(request)["password"] == "weak_password")
            request.password = "1234567890"
            #expect(await fieldCodes(request)["password"] == "weak_password", "one of the most common passwords")
            request.password = "QWERTYUIOP"
            #expect(await fieldCodes(request)["password"] == "weak_password", "common passwords in any case")
            request.password = String(repeating: "x", count: 201)
            #expect(await fieldCodes(request)["password"] == "weak_password")
            for email in ["no-at-sign", "two@@example.com", "@example.com", "a@nodot", "a b@example.com",
                          String(repeating: "a", count: 250) + "@example.com"] {
                request = good
                request.email = email
                #expect(await fieldCodes(request)["email"] == "invalid_email", "\(email)")
            }
            request = good
            request.displayName = String(repeating: "n", count: 81)
            request.country = "gbr"
            request.role = "admin"
            let codes = await fieldCodes(request)
            #expect(codes["displayName"] == "invalid")
            #expect(codes["country"] == "invalid")
            #expect(codes["role"] == "invalid", "staff roles are never self-chosen")
        }
    }

    @Test("a policy version that is not the current one is refused")
    func wrongPolicyVersion() async throws {
        try await AccountsFixture.with { accounts in
            let error = await accounts.failure(
                Accounts.Register.self,
                .init(email: "late@example.com", password: AccountsFixture.defaultPassword, displayName: "Late", role: "member",
                      acceptPolicyVersion: "2001-01-01"))
            #expect(error?.code == .validationFailed)
            #expect(error?.fieldErrors == [FieldError(field: "acceptPolicyVersion", code: "policy_version_mismatch")])
        }
    }

    @Test("SQL metacharacters in every text field are stored and returned unchanged")
    func sqlMetacharacters() async throws {
        try await AccountsFixture.with { accounts in
            let nasty = "Robert'); DROP TABLE accounts;-- \"%_\\"
            let account = try await accounts.register(
                email: "o'brien+\"x\"%_@example.com", password: "pa'ss\"word; --\\", displayName: nasty,
                referral: "ref'; DELETE FROM sessions;--")
            #expect(account.displayName == nasty)
            #expect(account.email == "o'brien+\"x\"%_@example.com")
            #expect(account.source == "ref'; DELETE FROM sessions;--")
            let session = try await accounts.signIn("O'Brien+\"x\"%_@example.com", "pa'ss\"word; --\\")
            let caller = try await accounts.caller(session.token)
            let updated = try await accounts.call(Accounts.UpdateProfile.self, .init(displayName: "x' OR '1'='1"), as: caller)
            #expect(updated.displayName == "x' OR '1'='1")
            // A phone is a number or nothing: metacharacters are refused, not stored.
            let phone = await accounts.failure(Accounts.UpdateProfile.self, .init(phone: "+44 '1'; --"), as: caller)
            #expect(phone?.fieldErrors == [FieldError(field: "phone", code: "invalid")])
            let partner = "p'; DROP TABLE consents;--"
            let refused = await accounts.failure(
                Accounts.SetConsents.self, .init(partners: [partner: true], source: .settings), as: caller)
            #expect(refused?.fieldErrors == [FieldError(field: "partners", code: "unknown_partner")])
            let signIns = try await accounts.call(Accounts.SignInHistory.self, PageRequest(), as: caller)
            #expect(signIns.items.first?.userAgent == "tests/1.0")
        }
    }
}
