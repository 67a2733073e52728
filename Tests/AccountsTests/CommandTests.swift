import Foundation
import Models
import Store
import TestSupport
import Testing
@testable import AccountsService

@Suite("Operator commands")
struct CommandTests {
    @Test("create-admin makes the first admin from ADMIN_PASSWORD, and refuses a second without --force")
    func createAdmin() async throws {
        let keys = AccountsFixture.keyEnvironment()
        try await AccountsFixture.with(keys: keys) { accounts in
            var environment = keys.merging([
                "DATABASE_URL": accounts.testDatabase.url, "DATABASE_SCHEMA": "accounts",
                "ADMIN_PASSWORD": "a long admin passphrase",
            ]) { _, new in new }
            let first = await AccountsCommands.run(["accounts", "create-admin", "--email", "root@example.com"], environment: environment)
            #expect(first == 0)
            let who = try await accounts.call(
                Accounts.Authenticate.self, .init(token: try await accounts.signIn("root@example.com", "a long admin passphrase").token))
            #expect(who.roles == ["admin"])
            let second = await AccountsCommands.run(["accounts", "create-admin", "--email", "root2@example.com"], environment: environment)
            #expect(second == 1)
            let forced = await AccountsCommands.run(
                ["accounts", "create-admin", "--email", "root2@example.com", "--force"], environment: environment)
            #expect(forced == 0)
            environment["ADMIN_PASSWORD"] = "password"
            let weak = await AccountsCommands.run(
                ["accounts", "create-admin", "--email", "root3@example.com", "--force"], environment: environment)
            #expect(weak == 1)
            environment["ACCOUNTS_DATA_KEY"] = "too-short"
            #expect(await AccountsCommands.run(["accounts", "create-admin", "--email", "x@example.com"], environment: environment) == 2)
        }
    }

    @Test("verify-audit answers 0 on an intact chain, 1 on a broken one, 2 without the service's keys; no command means serve")
    func verifyAudit() async throws {
        let keys = AccountsFixture.keyEnvironment()
        try await AccountsFixture.with(keys: keys) { accounts in
            try await accounts.register(email: "v@example.com")
            let database = ["DATABASE_URL": accounts.testDatabase.url, "DATABASE_SCHEMA": "accounts"]
            let environment = keys.merging(database) { _, new in new }
            #expect(await AccountsCommands.run(["accounts", "verify-audit"], environment: environment) == 0)
            // The chain is keyed: without the key nothing can be verified.
            #expect(await AccountsCommands.run(["accounts", "verify-audit"], environment: database) == 2)
            try await accounts.asSuperuser { connection in
                try connection.executeScript(
                    """
                    ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
                    UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 1;
                    ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
                    """)
            }
            #expect(await AccountsCommands.run(["accounts", "verify-audit"], environment: environment) == 1)
            #expect(await AccountsCommands.run(["accounts"], environment: environment) == nil)
            #expect(await AccountsCommands.run(["accounts", "frobnicate"], environment: environment) == 1)
        }
    }
}
