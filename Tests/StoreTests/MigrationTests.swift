import Foundation
import Store
import TestSupport
import Testing

/// Versioned migrations: applied once, in order, under a lock, history checked.
@Suite struct MigrationTests {
    private let migrations = [
        Migration(version: 1, name: "create_widgets", sql: "CREATE TABLE widgets (id int PRIMARY KEY); INSERT INTO widgets VALUES (1);"),
        Migration(version: 2, name: "add_colour", sql: "ALTER TABLE widgets ADD COLUMN colour text NOT NULL DEFAULT 'blue';"),
    ]

    private func count(_ sql: String, on database: Database) async throws -> Int {
        try await database.withConnection { try $0.queryOne(sql)!.decode(0, as: Int.self) }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        try await withTestDatabase { testDatabase in
            let databases = (0..<4).map { _ in Database(testDatabase.config(poolSize: 1), logger: testLogger) }
            let migrations = migrations
            let outcomes = await withTaskGroup(of: (any Error)?.self) { group in
                for database in databases {
                    group.addTask {
                        do {
                            try await database.migrate(migrations)
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.compactMap { $0 }.isEmpty, "\(outcomes)")
            let widgets = try await count("SELECT count(*) FROM widgets", on: databases[0])
            #expect(widgets == 1)
            let versions = try await databases[0].withConnection { connection in
                try connection.query("SELECT version, name FROM schema_migrations ORDER BY version").map {
                    "\(try $0.decode("version", as: Int.self)) \(try $0.decode("name", as: String.self))"
                }
            }
            #expect(versions == ["1 create_widgets", "2 add_colour"])
            for database in databases { await database.close() }
        }
    }

    @Test func reRunningIsANoOp() async throws {
        try await withDatabase { database, _ in
            try await database.migrate(migrations)
            let appliedAt = try await database.withConnection { try $0.query("SELECT applied_at FROM schema_migrations ORDER BY version").map { try $0.decode(0, as: Date.self) } }
            try await database.migrate(migrations)
            try await database.migrate(Array(migrations.prefix(1)))
            let appliedAgain = try await database.withConnection { try $0.query("SELECT applied_at FROM schema_migrations ORDER BY version").map { try $0.decode(0, as: Date.self) } }
            #expect(appliedAgain == appliedAt)
            let widgets = try await count("SELECT count(*) FROM widgets", on: database)
            #expect(widgets == 1)
        }
    }

    @Test func newMigrationsAreAppliedInVersionOrder() async throws {
        try await withDatabase { database, _ in
            try await database.migrate(Array(migrations.prefix(1)))
            // Given out of order: version 2 must still run before 3, which needs its column.
            let later = Migration(version: 3, name: "paint_red", sql: "UPDATE widgets SET colour = 'red';")
            try await database.migrate([later, migrations[1], migrations[0]])
            let colour = try await database.withConnection { try $0.queryOne("SELECT colour FROM widgets")!.decode(0, as: String.self) }
            #expect(colour == "red")
        }
    }

    @Test func anEditedNameIsDetected() async throws {
        try await withDatabase { database, _ in
            try await database.migrate(migrations)
            var edited = migrations
            edited[0].name = "create_gadgets"
            let error = await #expect(throws: StoreError.self) { try await database.migrate(edited) }
            #expect(error == .migrationConflict)
        }
    }

    @Test func aFailingMigrationRollsBackTheWholeCall() async throws {
        try await withDatabase { database, _ in
            let broken = [migrations[0], Migration(version: 2, name: "broken", sql: "ALTER TABLE nowhere ADD COLUMN x int;")]
            let error = await #expect(throws: StoreError.self) { try await database.migrate(broken) }
            #expect(error == .queryFailed)
            #expect(error?.description.contains("migration 2 broken") == true)
            let tables = try await count("SELECT count(*) FROM pg_tables WHERE tablename IN ('widgets', 'schema_migrations')", on: database)
            #expect(tables == 0)
        }
    }

    @Test func duplicateVersionsAreRefused() async throws {
        try await withDatabase { database, _ in
            let duplicated = migrations + [Migration(version: 2, name: "again", sql: "SELECT 1;")]
            let error = await #expect(throws: StoreError.self) { try await database.migrate(duplicated) }
            #expect(error == .invalidMigration)
        }
    }

    @Test func aConfiguredSchemaHoldsTheTablesAndPlatformTablesKeepTheirOwnHistory() async throws {
        try await withDatabase(schema: "catalogue") { database, _ in
            try await database.migrate(migrations)
            try await database.migrate(PlatformTables.migrations, table: PlatformTables.migrationTable)
            let tables = try await database.withConnection { connection in
                try connection.query(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
                ).map { try $0.decode(0, as: String.self) }
            }
            #expect(
                tables == [
                    "catalogue.event_consumers", "catalogue.event_cursors", "catalogue.outbox", "catalogue.platform_migrations",
                    "catalogue.schema_migrations",
                    "catalogue.widgets",
                ])
            let platformVersions = try await count("SELECT count(*) FROM platform_migrations", on: database)
            #expect(platformVersions == PlatformTables.migrations.count)
        }
    }

    @Test func loadReadsNumberedFilesInOrderAndIgnoresOthers() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "CREATE TABLE b ();".write(to: directory.appending(path: "010_second.sql"), atomically: true, encoding: .utf8)
        try "CREATE TABLE a ();".write(to: directory.appending(path: "002_first_one.sql"), atomically: true, encoding: .utf8)
        try "notes".write(to: directory.appending(path: "README.md"), atomically: true, encoding: .utf8)
        let loaded = try Migration.load(from: directory)
        #expect(
            loaded == [
                Migration(version: 2, name: "first_one", sql: "CREATE TABLE a ();"),
                Migration(version: 10, name: "second", sql: "CREATE TABLE b ();"),
            ])
    }

    @Test(arguments: [["3.sql"], ["abc_name.sql"], ["004_.sql"], ["001_a.sql", "1_b.sql"]])
    func loadRefusesBadNamesAndDuplicateVersions(files: [String]) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in files {
            try "SELECT 1;".write(to: directory.appending(path: file), atomically: true, encoding: .utf8)
        }
        let error = #expect(throws: StoreError.self) { try Migration.load(from: directory) }
        #expect(error == .invalidMigration)
    }

    private func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appending(path: "store-migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
