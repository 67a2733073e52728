import Bus
import Foundation
import Logging
import Models
import PlatformSecurity
import Store
import Testing
import TestSupport

/// Upgrading a running platform's accounts database, with the real accounts process.
@Suite(.timeLimit(.minutes(2)))
struct AccountsUpgradeEndToEndTests {
    /// The accounts migrations, read from the source tree (this test cannot import the service).
    static let migrationsFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Services/Accounts/Sources/AccountsService/Migrations")

    @Test("an account written before personal data was sealed survives the upgrade: the service seals it before dropping the plain columns")
    func upgradeKeepsAccounts() async throws {
        try await PlatformHarness.with(schemas: ["accounts"]) { harness in
            let database = Database(
                DatabaseConfig(url: harness.database.url, poolSize: 1, schema: "accounts"), logger: Logger(label: "test"))
            try await database.migrate(PlatformTables.migrations, table: PlatformTables.migrationTable)
            try await database.migrate(try Migration.load(from: Self.migrationsFolder).filter { $0.version <= 3 })
            // An account as release 003 wrote it: email, name, country and source in clear.
            let id = UUID()
            let password = "an old and trusted password"
            let hash = try await PasswordHasher(parameters: try .init(logN: 10, r: 8, p: 1)).hash(password)
            let master = try KeyRing(
                current: SealingKey(id: "accounts-1", material: try #require(Data(base64Encoded: PlatformHarness.accountsDataKey))))
            let sealedKey = try master.seal(SecureRandom.bytes(32), associatedData: Data(id.uuidString.lowercased().utf8))
            try await database.withConnection { connection in
                try connection.execute(
                    """
                    INSERT INTO accounts (id, email, email_normalized, password_hash, display_name, roles, country, source)
                    VALUES ($1, 'Upgraded@Example.com', 'upgraded@example.com', $2, 'Old Friend', '{member}', 'DE', 'aff-3')
                    """, id, hash)
                try connection.execute("INSERT INTO account_keys (account_id, sealed_key) VALUES ($1, $2)", id, sealedKey)
            }
            await database.close()

            try await harness.startBroker()
            try await harness.startService("accounts", schema: "accounts")
            let session = try await harness.client.call(
                Accounts.SignIn.self,
                .init(email: "upgraded@EXAMPLE.com", password: password, ipAddress: "192.0.2.1", userAgent: "upgrade-test"),
                as: .anonymous)
            #expect(session.account.id == id)
            #expect(session.account.email == "Upgraded@Example.com" && session.account.displayName == "Old Friend")
            #expect(session.account.country == "DE" && session.account.source == "aff-3")
        }
    }
}
