public import Foundation

/// One numbered, append-only step of a schema's history.
public struct Migration: Sendable, Equatable {
    /// Its position in history; applied in ascending order, recorded once applied.
    public var version: Int
    /// A short name, recorded beside the version; changing it later is detected as edited history.
    public var name: String
    /// The SQL; may hold several statements. It runs inside the migration transaction, so it
    /// must not use COMMIT or statements that refuse transactions (`CREATE INDEX CONCURRENTLY`).
    public var sql: String

    /// A migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads files named `NNN_some_name.sql` from a directory (other files ignored), sorted by version; throws on duplicate versions or bad names.
    ///
    /// `007_add_index.sql` becomes version 7, name `add_index`. A `.sql` file whose name does
    /// not fit the pattern throws `StoreError.invalidMigration`, as do two files of one version.
    public static func load(from directory: URL) throws -> [Migration] {
        let entries = try FileManager.default.contentsOfDirectory(
            at: directory, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        var migrations: [Migration] = []
        for entry in entries where entry.pathExtension == "sql" {
            guard try entry.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
            let fileName = entry.lastPathComponent
            guard let (version, name) = parse(fileName: fileName) else {
                throw StoreError.invalidMigration.with(context: "\(fileName) is not named NNN_some_name.sql")
            }
            let sql = try String(contentsOf: entry, encoding: .utf8)
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        try validate(migrations)
        return migrations.sorted { $0.version < $1.version }
    }

    /// Throws `StoreError.invalidMigration` when two migrations share a version.
    static func validate(_ migrations: [Migration]) throws {
        var seen = Set<Int>()
        for migration in migrations where !seen.insert(migration.version).inserted {
            throw StoreError.invalidMigration.with(context: "version \(migration.version) appears more than once")
        }
    }

    /// Version and name from `NNN_some_name.sql`, or nil.
    private static func parse(fileName: String) -> (Int, String)? {
        let stem = fileName.dropLast(".sql".count)
        guard let separator = stem.firstIndex(of: "_") else { return nil }
        let digits = stem[..<separator]
        let name = stem[stem.index(after: separator)...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
            let version = Int(digits), version > 0, !name.isEmpty
        else { return nil }
        return (version, String(name))
    }
}
