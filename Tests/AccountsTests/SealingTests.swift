import Foundation
import Models
import PlatformSecurity
import Store
import TestSupport
import Testing
@testable import AccountsService

@Suite("Sealed data, key rotation and the erasure register")
struct SealingTests {
    @Test("rows written before the sealed columns existed are sealed at start-up, and read back whole")
    func plainRowsSealed() async throws {
        let settings = try AccountsFixture.settings()
        try await withTestDatabase(schema: "accounts") { testDatabase in
            let database = Database(testDatabase.config(poolSize: 2), logger: AccountsFixture.quiet)
            try await database.migrate(PlatformTables.migrations, table: PlatformTables.migrationTable)
            let folder = try #require(AccountsService.migrations)
            try await database.migrate(try Migration.load(from: folder).filter { $0.version <= 3 })
            // An account as release 003 wrote it: everything but the phone in clear.
            let id = UUID()
            let material = SecureRandom.bytes(32)
            let dataKey = try KeyRing(current: SealingKey(id: "account", material: material))
            let phone = try dataKey.seal(Data("+44 20 7946 0000".utf8), associatedData: AccountRecords.binding(id))
            try await database.withConnection { connection in
                try connection.execute(
                    """
                    INSERT INTO accounts (id, email, email_normalized, password_hash, display_name, roles, country, source, phone_sealed)
                    VALUES ($1, 'Old@Example.com', 'old@example.com', 'x', 'Old Timer', '{member}', 'GB', 'aff-9', $2)
                    """, id, phone)
                try connection.execute(
                    "INSERT INTO account_keys (account_id, sealed_key) VALUES ($1, $2)", id,
                    try settings.keyRing.seal(material, associatedData: AccountRecords.binding(id)))
                try connection.execute(
                    "INSERT INTO sign_in_attempts (ip, user_agent, succeeded, account_id) VALUES ('192.0.2.44', 'Old/1', true, $1)", id)
            }
            try await AccountsCommands.migrate(database, settings: settings)
            try await AccountsCommands.migrate(database, settings: settings)  // a second start changes nothing

            let records = AccountRecords(settings: settings)
            let (account, history, plainColumns) = try await database.withConnection { connection in
                let found = try #require(try records.load(email: "OLD@example.com", on: connection))
                let open = try records.clientOpener(for: id, on: connection)
                let history = try connection.query("SELECT client_sealed FROM sign_in_attempts WHERE account_id = $1", id)
                    .map { try open(try $0.decode("client_sealed", as: Data.self)) }
                let plain = try connection.query(
                    """
                    SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()
                    AND table_name IN ('accounts', 'sessions', 'sign_in_attempts') AND column_name IN ('email', 'email_normalized', 'display_name', 'country', 'source', 'ip', 'user_agent')
                    """)
                return (found.account, history, plain.count)
            }
            #expect(account.id == id)
            #expect(account.email == "Old@Example.com" && account.displayName == "Old Timer")
            #expect(account.country == "GB" && account.source == "aff-9" && account.pendingPhone == "+44 20 7946 0000" && account.phone == nil)
            #expect(history.map(\.ipAddress) == ["192.0.2.44"] && history.map(\.userAgent) == ["Old/1"])
            #expect(plainColumns == 0)
            await database.close()
        }
    }

    @Test("rotate-keys re-wraps every account key under the newest master key; the old one can then go")
    func rotation() async throws {
        let old = AccountsFixture.keyEnvironment()
        let oldKey = try #require(old["ACCOUNTS_DATA_KEY"]?.split(separator: ":").last)
        let newKey = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
        let rotated = old.merging(["ACCOUNTS_DATA_KEY": "master-2:\(newKey),test-master:\(oldKey)"]) { _, new in new }
        try await AccountsFixture.with(keys: old) { accounts in
            let account = try await accounts.register(email: "rot@example.com", displayName: "Rota")
            let environment = rotated.merging(["DATABASE_URL": accounts.testDatabase.url, "DATABASE_SCHEMA": "accounts"]) { _, new in new }
            #expect(await AccountsCommands.run(["accounts", "rotate-keys"], environment: environment) == 0)
            #expect(await AccountsCommands.run(["accounts", "rotate-keys"], environment: environment) == 0)
            let ids = try await accounts.database.withConnection { connection in
                try connection.query("SELECT sealed_key FROM account_keys").map { try KeyRing.keyID(of: $0.decode("sealed_key", as: Data.self)) }
            }
            #expect(ids == ["master-2"])
            var newOnly = rotated
            newOnly["ACCOUNTS_DATA_KEY"] = "master-2:\(newKey)"
            let records = AccountRecords(settings: try AccountsFixture.settings(keys: newOnly))
            let loaded = try await accounts.database.withConnection { try records.load(account.id, on: $0) }
            #expect(loaded?.account.displayName == "Rota")
            let oldOnly = AccountRecords(settings: try AccountsFixture.settings(keys: old))
            await #expect(throws: SecurityError.self) {
                _ = try await accounts.database.withConnection { try oldOnly.load(account.id, on: $0) }
            }
        }
    }

    @Test("after a restore from before an erasure, reapply-erasures with the live register erases the person again, once")
    func restoreReappliesErasures() async throws {
        let keys = AccountsFixture.keyEnvironment()
        try await AccountsFixture.with(keys: keys) { accounts in
            let leaving = try await accounts.register(email: "leaving@example.com")
            try await accounts.register(email: "staying@example.com")
            // The backup: taken while the person was still there.
            try await accounts.asSuperuser { connection in
                try connection.executeScript(
                    """
                    CREATE TABLE accounts.backup_accounts AS SELECT * FROM accounts.accounts;
                    CREATE TABLE accounts.backup_keys AS SELECT * FROM accounts.account_keys;
                    """)
            }
            let caller = try await accounts.caller(try await accounts.signIn("leaving@example.com").token)
            let erasure = try await accounts.call(
                Accounts.RequestErasure.self, .init(password: AccountsFixture.defaultPassword), as: caller)
            let register = try await ErasureRegister.entries(database: accounts.database)
            #expect(register.map(\.erasureId) == [erasure.erasureId])
            #expect(register.first?.accountId == leaving.id)

            // The restore: the erasure is undone, the person and their key are back.
            try await accounts.asSuperuser { connection in
                try connection.executeScript(
                    """
                    DELETE FROM accounts.erasure_confirmations; DELETE FROM accounts.erasures; DELETE FROM accounts.outbox;
                    UPDATE accounts.accounts a SET erased_at = NULL, personal_sealed = b.personal_sealed,
                        email_index = b.email_index, password_hash = b.password_hash
                    FROM accounts.backup_accounts b WHERE a.id = b.id;
                    INSERT INTO accounts.account_keys SELECT * FROM accounts.backup_keys ON CONFLICT DO NOTHING;
                    """)
            }
            _ = try await accounts.signIn("leaving@example.com")

            let lines = try register.map { String(decoding: try WireCoding.encoder().encode($0), as: UTF8.self) }
            let environment = keys.merging(["DATABASE_URL": accounts.testDatabase.url, "DATABASE_SCHEMA": "accounts"]) { _, new in new }
            for _ in 0..<2 {  // once applied, a second run changes nothing
                let input = Pipe()
                input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
                try input.fileHandleForWriting.close()
                #expect(
                    await AccountsCommands.run(
                        ["accounts", "reapply-erasures"], environment: environment, standardInput: input.fileHandleForReading) == 0)
            }
            #expect(
                await accounts.failure(
                    Accounts.SignIn.self,
                    .init(email: "leaving@example.com", password: AccountsFixture.defaultPassword, ipAddress: "192.0.2.1", userAgent: "t")
                )?.code.rawValue == "invalid_credentials")
            _ = try await accounts.signIn("staying@example.com")
            let (keysLeft, announced) = try await accounts.database.withConnection { connection in
                (
                    try connection.queryOne("SELECT count(*) AS n FROM account_keys WHERE account_id = $1", leaving.id)?
                        .decode("n", as: Int.self),
                    try connection.query("SELECT type FROM outbox").map { try $0.decode("type", as: String.self) }
                )
            }
            #expect(keysLeft == 0)
            // Announced again, once, so every other service erases the person from its own restore.
            #expect(announced == [Privacy.ErasureRequested.type])
            let status = try await accounts.call(Accounts.ErasureStatus.self, .init(erasureId: erasure.erasureId), as: .system)
            #expect(status.confirmed == ["accounts"])
        }
    }
}
