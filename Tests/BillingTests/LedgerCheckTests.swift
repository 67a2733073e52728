@testable import BillingService
import Foundation
import Logging
import Models
import ServiceKit
import Store
import Testing
import TestSupport

/// `platform ledger-check` is what proves the ledger exact; it must also find what does not add up.
@Suite struct LedgerCheckTests {
    @Test("the ledger check names a balance that is not the sum of its entries, an entry without its transfer and one without its account")
    func findsWhatDoesNotAddUp() async throws {
        let testDatabase = try await TestDatabase.create(schema: "billing")
        let database = Database(testDatabase.config(poolSize: 2), logger: Logger(label: "test"))
        defer { Task { try? await testDatabase.drop() } }
        try await database.migrate(PlatformTables.migrations, table: "platform_migrations")
        let settings = BillingSettings(dataKey: Data(repeating: 7, count: 32))
        try await database.migrate(try Migration.load(from: try #require(BillingService.definition(settings: settings).migrations)))

        let member = UUID()
        let wallet = try await database.transaction { connection in
            let wallet = try Ledger.account("wallet", of: member, on: connection)
            _ = try Ledger.post(
                "top-up:test", kind: "top-up", chatId: nil, legs: [.init(account: Ledger.clearing, amountCents: -500), .init(account: wallet, amountCents: 500)],
                on: connection)
            return wallet
        }
        #expect(try await database.withConnection { try Ledger.check(on: $0) }.ok)

        try await database.withConnection { try $0.execute("UPDATE ledger_accounts SET balance_cents = 499 WHERE id = $1", wallet) }
        var check = try await database.withConnection { try Ledger.check(on: $0) }
        #expect(!check.ok && check.mismatchedAccounts == [wallet])
        try await database.withConnection { try $0.execute("UPDATE ledger_accounts SET balance_cents = 500 WHERE id = $1", wallet) }

        // A balanced pair of entries whose transfer was never written.
        try await database.withConnection { connection in
            try connection.execute(
                """
                INSERT INTO entries (transfer_id, account_id, amount_cents, balance_after_cents)
                VALUES ('minute:nowhere:1', $1, 100, 0), ('minute:nowhere:1', $2, -100, 0)
                """, Ledger.revenue, Ledger.promotions)
        }
        check = try await database.withConnection { try Ledger.check(on: $0) }
        #expect(!check.ok && check.unbalancedTransfers == ["minute:nowhere:1"])
        try await database.withConnection { try $0.execute("DELETE FROM entries WHERE transfer_id = 'minute:nowhere:1'") }
        #expect(try await database.withConnection { try Ledger.check(on: $0) }.ok)

        // A balanced transfer one of whose entries names no account.
        let nobody = UUID()
        try await database.withConnection { connection in
            try connection.execute("INSERT INTO transfers (id, kind) VALUES ('top-up:lost', 'top-up')")
            try connection.execute(
                """
                INSERT INTO entries (transfer_id, account_id, amount_cents, balance_after_cents)
                VALUES ('top-up:lost', $1, 100, 100), ('top-up:lost', $2, -100, 0)
                """, nobody, Ledger.clearing)
            try connection.execute("UPDATE ledger_accounts SET balance_cents = balance_cents - 100 WHERE id = $1", Ledger.clearing)
        }
        check = try await database.withConnection { try Ledger.check(on: $0) }
        #expect(!check.ok && check.mismatchedAccounts == [nobody] && check.unbalancedTransfers.isEmpty)
        await database.close()
    }
}
