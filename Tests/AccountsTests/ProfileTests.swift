import Foundation
import Models
import Store
import Testing

@Suite("Profile")
struct ProfileTests {
    @Test("changing email or password needs the current password")
    func currentPasswordRequired() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "prof@example.com")
            let session = try await accounts.signIn("prof@example.com")
            let caller = try await accounts.caller(session.token)
            let missing = await accounts.failure(Accounts.UpdateProfile.self, .init(email: "new@example.com"), as: caller)
            #expect(missing?.fieldErrors == [FieldError(field: "currentPassword", code: "required")])
            let wrong = await accounts.failure(
                Accounts.UpdateProfile.self, .init(password: "a brand new secret", currentPassword: "not mine at all"), as: caller)
            #expect(wrong?.fieldErrors == [FieldError(field: "currentPassword", code: "invalid_credentials")])

            let updated = try await accounts.call(
                Accounts.UpdateProfile.self,
                .init(displayName: "Renamed", email: "New@Example.com", currentPassword: AccountsFixture.defaultPassword), as: caller)
            #expect(updated.email == "New@Example.com")
            #expect(updated.displayName == "Renamed")
            _ = try await accounts.signIn("new@example.com")
            #expect(await accounts.failure(
                Accounts.SignIn.self, .init(email: "prof@example.com", password: AccountsFixture.defaultPassword, ipAddress: "192.0.2.1", userAgent: "t")
            )?.code.rawValue == "invalid_credentials")
        }
    }

    @Test("changing the password ends every other session, keeps the current one")
    func passwordChangeEndsOtherSessions() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "pw@example.com")
            let laptop = try await accounts.signIn("pw@example.com")
            let phone = try await accounts.signIn("pw@example.com")
            _ = try await accounts.call(
                Accounts.UpdateProfile.self,
                .init(password: "an entirely new secret", currentPassword: AccountsFixture.defaultPassword, currentToken: laptop.token),
                as: try await accounts.caller(laptop.token))
            _ = try await accounts.call(Accounts.Authenticate.self, .init(token: laptop.token))
            #expect(await accounts.failure(Accounts.Authenticate.self, .init(token: phone.token))?.code == .unauthenticated)
            _ = try await accounts.signIn("pw@example.com", "an entirely new secret")
        }
    }

    @Test("another account's email cannot be taken over")
    func emailTaken() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "first@example.com")
            try await accounts.register(email: "second@example.com")
            let caller = try await accounts.caller(try await accounts.signIn("second@example.com").token)
            let taken = await accounts.failure(
                Accounts.UpdateProfile.self, .init(email: "FIRST@example.com", currentPassword: AccountsFixture.defaultPassword),
                as: caller)
            #expect(taken?.code.rawValue == "email_taken")
        }
    }
}
