import Foundation
import Models
import Store
import Testing
@testable import AccountsService

@Suite("Staff and audit")
struct StaffAndAuditTests {
    @Test("only an admin creates staff accounts, with staff roles only")
    func staffCreation() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "m@example.com")
            let member = try await accounts.caller(try await accounts.signIn("m@example.com").token)
            let request = Accounts.CreateStaff.Request(
                email: "support@example.com", password: AccountsFixture.defaultPassword, displayName: "Sam Support",
                roles: ["support"])
            #expect(await accounts.failure(Accounts.CreateStaff.self, request, as: member)?.code == .forbidden)
            #expect(await accounts.failure(Accounts.CreateStaff.self, request)?.code == .unauthenticated)
            let admin = try await accounts.admin()
            var bad = request
            bad.roles = ["member"]
            #expect(await accounts.failure(Accounts.CreateStaff.self, bad, as: admin)?.fieldErrors == [FieldError(field: "roles", code: "invalid")])
            let staff = try await accounts.call(Accounts.CreateStaff.self, request, as: admin)
            #expect(staff.roles == ["support"])
            // The admin made by the platform command has no staff access to show.
            #expect(try await accounts.call(Accounts.AccessLog.self, PageRequest(), as: admin).items.isEmpty)
            let who = try await accounts.call(Accounts.Authenticate.self, .init(token: try await accounts.signIn("support@example.com").token))
            #expect(who.roles == ["support"])
        }
    }

    @Test("a staff view of an account is audited and shown in that person's access log")
    func staffViewAudited() async throws {
        try await AccountsFixture.with { accounts in
            let person = try await accounts.register(email: "person@example.com")
            let personCaller = try await accounts.caller(try await accounts.signIn("person@example.com").token)
            let admin = try await accounts.admin()
            _ = try await accounts.call(
                Accounts.CreateStaff.self,
                .init(email: "legal@example.com", password: AccountsFixture.defaultPassword, displayName: "Lee Legal", roles: ["legal"]),
                as: admin)
            let legal = try await accounts.caller(try await accounts.signIn("legal@example.com").token)
            #expect(await accounts.failure(
                Accounts.StaffViewAccount.self, .init(accountId: person.id, reason: "curious"), as: personCaller)?.code == .forbidden)
            #expect(await accounts.failure(
                Accounts.StaffViewAccount.self, .init(accountId: person.id, reason: " "), as: legal)?.code == .validationFailed)
            #expect(await accounts.failure(
                Accounts.StaffViewAccount.self, .init(accountId: UUID(), reason: "ticket 7"), as: legal)?.code == .notFound)
            let seen = try await accounts.call(Accounts.StaffViewAccount.self, .init(accountId: person.id, reason: "ticket 7"), as: legal)
            #expect(seen.email == "person@example.com")
            let log = try await accounts.call(Accounts.AccessLog.self, PageRequest(), as: personCaller)
            #expect(log.items.count == 1)
            #expect(log.items.first?.staffId == legal.accountId)
            #expect(log.items.first?.staffRoles == ["legal"])
            #expect(log.items.first?.action == "staff.view-account")
            #expect(log.items.first?.reason == "ticket 7")
        }
    }

    @Test("sign-ins, consent changes and staff actions land in a hash chain that verifies; a tampered entry is found")
    func auditChain() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "a@example.com")
            let caller = try await accounts.caller(try await accounts.signIn("a@example.com").token)
            _ = await accounts.failure(
                Accounts.SignIn.self, .init(email: "a@example.com", password: "wrong password", ipAddress: "192.0.2.1", userAgent: "t"))
            _ = try await accounts.call(Accounts.SetConsents.self, .init(marketingSms: true, source: .settings), as: caller)
            let actions = try await accounts.database.withConnection { connection in
                try connection.query("SELECT action FROM audit_log ORDER BY seq").map { try $0.decode("action", as: String.self) }
            }
            #expect(actions == ["account.register", "consent.change", "session.sign-in", "session.sign-in-failed", "consent.change"])
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database) == nil)

            // The service's own role cannot change or remove entries.
            await #expect(throws: StoreError.self) {
                try await accounts.database.withConnection { try $0.execute("UPDATE audit_log SET action = 'x' WHERE seq = 2") }
            }
            await #expect(throws: StoreError.self) {
                try await accounts.database.withConnection { try $0.execute("DELETE FROM audit_log WHERE seq = 5") }
            }
            // Someone with the power to disable the trigger changes an entry: the chain shows where.
            try await accounts.asSuperuser { connection in
                try connection.executeScript(
                    """
                    ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
                    UPDATE audit_log SET details = '{"consent": "marketingSms", "granted": "false"}' WHERE seq = 5;
                    ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
                    """)
            }
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database) == 5)
        }
    }

    @Test("a removed entry in the middle or at the end breaks the chain")
    func removedEntries() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "r@example.com")
            _ = try await accounts.signIn("r@example.com")
            _ = try await accounts.signIn("r@example.com")
            try await accounts.asSuperuser { connection in
                try connection.executeScript(
                    """
                    ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
                    DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log);
                    ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
                    """)
            }
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database) == 4)
            try await accounts.asSuperuser { connection in
                try connection.executeScript(
                    """
                    ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
                    DELETE FROM audit_log WHERE seq = 2;
                    ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
                    """)
            }
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database) == 3)
        }
    }

    @Test("concurrent appends keep one linear chain")
    func concurrentAppends() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "busy@example.com")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<12 {
                    group.addTask { _ = try await accounts.signIn("busy@example.com") }
                }
                try await group.waitForAll()
            }
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database) == nil)
        }
    }
}
