import Logging

extension Database {
    /// Applies, in one transaction, every migration not yet recorded in `table`, in version order.
    ///
    /// Takes `pg_advisory_xact_lock` on a stable hash of schema and table first, so instances
    /// starting together apply each migration exactly once. Creates `table` if missing. Throws
    /// `StoreError.migrationConflict` if a recorded version carries another name than the one
    /// given (edited history), `StoreError.invalidMigration` on duplicate versions; a failing
    /// migration rolls back the whole call and names itself in the error's context. With
    /// `config.schema` set, everything runs in that schema, which must already exist.
    /// Returns the versions this call applied (none when every one was applied before).
    @discardableResult
    public func migrate(_ migrations: [Migration], table: String = "schema_migrations") async throws -> [Int] {
        try Migration.validate(migrations)
        let pending = migrations.sorted { $0.version < $1.version }
        let configuredSchema = config.schema
        let logger = logger
        let applied = try await transaction { connection -> [Migration] in
            let schema: String
            if let configuredSchema {
                schema = configuredSchema
            } else {
                schema = try connection.queryOne("SELECT current_schema() AS schema")?.decode("schema", as: String?.self) ?? "public"
            }
            // A migration may rewrite a large table, and instances wait here for each other's.
            try connection.liftStatementTimeout()
            try connection.execute("SELECT pg_advisory_xact_lock($1)", advisoryLockKey("migrations", schema, table))
            let qualifiedTable = (configuredSchema.map { "\(quoteIdentifier($0))." } ?? "") + quoteIdentifier(table)
            try connection.executeScript("""
                CREATE TABLE IF NOT EXISTS \(qualifiedTable) (
                    version int PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            var recorded: [Int: String] = [:]
            for row in try connection.query("SELECT version, name FROM \(qualifiedTable)") {
                recorded[try row.decode("version")] = try row.decode("name")
            }
            var applied: [Migration] = []
            for migration in pending {
                if let name = recorded[migration.version] {
                    guard name == migration.name else {
                        throw StoreError.migrationConflict.with(
                            context: "version \(migration.version) was applied as \"\(name)\" but is now \"\(migration.name)\"")
                    }
                    continue
                }
                do {
                    try connection.executeScript(migration.sql)
                } catch let error as StoreError {
                    logger.info(
                        "store migration failed",
                        metadata: [
                            "db.migration.version": "\(migration.version)", "db.migration.name": "\(migration.name)",
                            "db.error": "\(error)", "db.server_message": "\(error.serverMessage ?? "")",
                        ])
                    throw error.with(context: "migration \(migration.version) \(migration.name) failed")
                }
                try connection.execute(
                    "INSERT INTO \(qualifiedTable) (version, name) VALUES ($1, $2)", migration.version, migration.name)
                applied.append(migration)
            }
            return applied
        }
        for migration in applied {
            logger.info(
                "store migration applied",
                metadata: ["db.migration.table": "\(table)", "db.migration.version": "\(migration.version)", "db.migration.name": "\(migration.name)"])
        }
        return applied.map(\.version)
    }
}

/// A stable 64-bit advisory lock key for a purpose and its names (FNV-1a over the UTF-8 of the
/// parts, each followed by a NUL): the same in every process and every release.
func advisoryLockKey(_ parts: String...) -> Int64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for part in parts {
        for byte in part.utf8 + [0] {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
    }
    return Int64(bitPattern: hash)
}
