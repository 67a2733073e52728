import Foundation
import Models
import PlatformSecurity
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
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == nil)

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
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == 5)
        }
    }

    @Test("history rewritten with the whole chain recomputed, as anyone able to write the table could, is found where it starts")
    func rewrittenChainIsFound() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "k@example.com")
            _ = try await accounts.signIn("k@example.com")
            _ = try await accounts.signIn("k@example.com")
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == nil)
            // Entry 3 is changed, and every hash from the first on is computed again, the head too.
            try await accounts.asSuperuser { connection in
                try connection.executeScript("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
                try connection.execute("UPDATE audit_log SET action = 'session.sign-out' WHERE seq = 3")
                let rows = try connection.query(
                    """
                    SELECT seq, (extract(epoch FROM at) * 1000000)::bigint AS micros, actor_id,
                           array_to_json(actor_roles)::text AS roles, action, subject_id, details::text AS details
                    FROM audit_log ORDER BY seq
                    """)
                var previous = Data(repeating: 0, count: SHA256.digestLength)
                for row in rows {
                    let line = AuditLog.canonicalLine(
                        seq: try row.decode("seq"), micros: try row.decode("micros"), actorId: try row.decode("actor_id"),
                        actorRoles: try JSONDecoder().decode([String].self, from: Data(try row.decode("roles", as: String.self).utf8)),
                        action: try row.decode("action"), subjectId: try row.decode("subject_id"), details: try row.decode("details"))
                    let hash = SHA256.hash(previous + Data(line.utf8))
                    try connection.execute(
                        "UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3", previous, hash, try row.decode("seq", as: Int64.self))
                    previous = hash
                }
                try connection.execute("UPDATE audit_head SET last_hash = $1", previous)
                try connection.executeScript("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
            }
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == 3)
            // Nor can the MACs simply be removed, as if the chain predated its key.
            try await accounts.asSuperuser { connection in
                try connection.executeScript(
                    """
                    ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
                    UPDATE audit_log SET mac = NULL;
                    UPDATE audit_head SET head_mac = NULL;
                    ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
                    """)
            }
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) != nil)
            // A restart does not key the forged chain: only the start that applies migration 007 keys a head.
            try await AccountsCommands.migrate(accounts.database, settings: accounts.settings)
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) != nil)
            // And a key other than the service's verifies nothing.
            let otherKey = AuditLog(key: Data(repeating: 7, count: 32))
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, audit: otherKey) != nil)
        }
    }

    @Test("a chain written before it was keyed is keyed at start-up, and entries after carry their own MAC")
    func legacyChainIsAnchored() async throws {
        try await AccountsFixture.with { accounts in
            try await accounts.register(email: "old@example.com")
            _ = try await accounts.signIn("old@example.com")
            // As release 006 left it: migration 007 not applied, no MAC anywhere. The next start
            // applies 007 and keys the head it finds.
            try await accounts.asSuperuser { connection in
                try connection.execute("DELETE FROM schema_migrations WHERE version = 7")
                try connection.executeScript("ALTER TABLE audit_log DROP COLUMN mac; ALTER TABLE audit_head DROP COLUMN head_mac")
            }
            try await AccountsCommands.migrate(accounts.database, settings: accounts.settings)
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == nil)
            _ = try await accounts.signIn("old@example.com")
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == nil)
            let unkeyed = try await accounts.database.withConnection { connection in
                try connection.query("SELECT seq FROM audit_log WHERE mac IS NULL ORDER BY seq").map { try $0.decode("seq", as: Int64.self) }
            }
            #expect(unkeyed == [1, 2, 3])
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
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == 4)
            try await accounts.asSuperuser { connection in
                try connection.executeScript(
                    """
                    ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
                    DELETE FROM audit_log WHERE seq = 2;
                    ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
                    """)
            }
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == 3)
        }
    }

    @Test("an admin removes staff roles, disables an account or ends its sessions, audited and shown to that person")
    func offboarding() async throws {
        try await AccountsFixture.with { accounts in
            let admin = try await accounts.admin()
            let staff = try await accounts.call(
                Accounts.CreateStaff.self,
                .init(email: "leaver@example.com", password: AccountsFixture.defaultPassword, displayName: "Leaver", roles: ["support", "moderator"]),
                as: admin)
            let first = try await accounts.signIn("leaver@example.com")
            let staffCaller = try await accounts.caller(first.token)
            #expect(await accounts.failure(
                Accounts.StaffOffboard.self, .init(accountId: try #require(admin.accountId), endSessions: true, reason: "x"), as: staffCaller
            )?.code == .forbidden)
            #expect(await accounts.failure(
                Accounts.StaffOffboard.self, .init(accountId: try #require(admin.accountId), endSessions: true, reason: "me"), as: admin
            )?.fieldErrors.first?.code == "yourself")
            #expect(await accounts.failure(Accounts.StaffOffboard.self, .init(accountId: staff.id, reason: "nothing"), as: admin)?.code
                == .validationFailed)

            let demoted = try await accounts.call(
                Accounts.StaffOffboard.self, .init(accountId: staff.id, removeRoles: ["moderator"], reason: "left the moderation team"),
                as: admin)
            #expect(demoted.roles == ["support"] && !demoted.disabled && demoted.sessionsEnded == 1)
            // The session opened with the old roles is over; a new one has the remaining role.
            #expect(await accounts.failure(Accounts.Authenticate.self, .init(token: first.token))?.code == .unauthenticated)
            let second = try await accounts.signIn("leaver@example.com")
            #expect(try await accounts.call(Accounts.Authenticate.self, .init(token: second.token)).roles == ["support"])

            let disabled = try await accounts.call(
                Accounts.StaffOffboard.self, .init(accountId: staff.id, removeRoles: ["support"], disable: true, reason: "contract ended"),
                as: admin)
            #expect(disabled.roles == ["member"] && disabled.disabled && disabled.sessionsEnded == 1)
            #expect(await accounts.failure(Accounts.Authenticate.self, .init(token: second.token))?.code == .unauthenticated)
            #expect(await accounts.failure(
                Accounts.SignIn.self,
                .init(email: "leaver@example.com", password: AccountsFixture.defaultPassword, ipAddress: "192.0.2.5", userAgent: "t")
            )?.code == .accountDisabled)
            // A wrong password still says only that it is wrong.
            #expect(await accounts.failure(
                Accounts.SignIn.self, .init(email: "leaver@example.com", password: "not the password", ipAddress: "192.0.2.5", userAgent: "t")
            )?.code == .invalidCredentials)

            let actions = try await accounts.database.withConnection { connection in
                try connection.query(
                    "SELECT details->>'reason' AS reason FROM audit_log WHERE action = 'staff.offboard' AND subject_id = $1 ORDER BY seq", staff.id
                ).map { try $0.decode("reason", as: String.self) }
            }
            #expect(actions == ["left the moderation team", "contract ended"])
        }
    }

    @Test("an admin whose role was just removed cannot act on the session that still says admin; the last admin cannot erase their account")
    func adminsKept() async throws {
        try await AccountsFixture.with { accounts in
            let first = try await accounts.admin()
            let second = try await accounts.admin()
            let firstId = try #require(first.accountId)
            let secondId = try #require(second.accountId)
            _ = try await accounts.call(
                Accounts.StaffOffboard.self, .init(accountId: secondId, removeRoles: ["admin"], reason: "one admin is enough"), as: first)
            // The second admin's caller still carries the roles its session had a moment ago.
            let refused = await accounts.failure(
                Accounts.StaffOffboard.self, .init(accountId: firstId, removeRoles: ["admin"], reason: "revenge"), as: second)
            #expect(refused?.code == .forbidden)
            // The one enabled admin left cannot leave the platform without one.
            let erasure = await accounts.failure(
                Accounts.RequestErasure.self, .init(password: AccountsFixture.defaultPassword), as: first)
            #expect(erasure?.code == .lastAdmin)
            #expect(try await accounts.call(Accounts.Me.self, Empty(), as: first).roles == ["admin"])
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
            #expect(try await AccountsCommands.verifyAudit(database: accounts.database, settings: accounts.settings) == nil)
        }
    }
}
