public import Foundation
import Logging
import Models
import PlatformSecurity
import ServiceKit
public import Store

/// The operator commands of the `accounts` executable: `create-admin` makes the first admin (there
/// is never a default password), `verify-audit` checks the audit log's hash chain, `rotate-keys`
/// re-wraps every account's data key under the newest master key, `erasure-register` prints the
/// register of erasures and `reapply-erasures` applies such a register again after a restore.
public enum AccountsCommands {
    /// Runs the command named by `arguments[1]`, if there is one, and returns the exit status;
    /// nil when the arguments name no command (the process then serves).
    public static func run(
        _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        standardInput: FileHandle = .standardInput
    ) async -> Int32? {
        guard arguments.count > 1 else { return nil }
        let options = Array(arguments.dropFirst(2))
        switch arguments[1] {
        case "create-admin":
            guard let email = value(of: "--email", in: options) else {
                return fail("usage: accounts create-admin --email EMAIL [--force] (password from ADMIN_PASSWORD or stdin)")
            }
            var password = environment["ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            if password == nil { password = await firstLine(of: standardInput) }
            guard let password else { return fail("no password: set ADMIN_PASSWORD or write it to stdin") }
            return await withDatabase(environment) { database, settings in
                guard let settings else { return 2 }
                let id = try await createAdmin(
                    email: email, password: password, force: options.contains("--force"), database: database, settings: settings)
                print("admin account created: \(id.uuidString.lowercased())")
                return 0
            }
        case "verify-audit":
            return await withDatabase(environment) { database, settings in
                guard let settings else { return 2 }
                if let broken = try await verifyAudit(database: database, audit: settings.audit) {
                    print("audit chain broken at seq \(broken)")
                    return 1
                }
                print("OK")
                return 0
            }
        case "rotate-keys":
            return await withDatabase(environment) { database, settings in
                guard let settings else { return 2 }
                try await migrate(database, settings: settings)
                let count = try await PersonalDataSealing.rewrapKeys(database: database, keyRing: settings.keyRing)
                print("re-wrapped \(count) account keys under \(settings.keyRing.current.id)")
                return 0
            }
        case "erasure-register":
            return await withDatabase(environment, needsKey: false) { database, _ in
                for entry in try await ErasureRegister.entries(database: database) {
                    print(String(decoding: try WireCoding.encoder().encode(entry), as: UTF8.self))
                }
                return 0
            }
        case "reapply-erasures":
            let lines = await allLines(of: standardInput)
            var entries: [ErasureRegister.Entry] = []
            for (number, line) in lines.enumerated() where !line.isEmpty {
                guard let entry = try? WireCoding.decoder().decode(ErasureRegister.Entry.self, from: Data(line.utf8)) else {
                    return fail("line \(number + 1) of the register is not an erasure-register entry", status: 2)
                }
                entries.append(entry)
            }
            return await withDatabase(environment) { database, settings in
                guard let settings else { return 2 }
                try await migrate(database, settings: settings)
                let count = try await ErasureRegister.reapply(entries, database: database, audit: settings.audit)
                print("re-applied \(count) of \(entries.count) erasures")
                return 0
            }
        default:
            return fail(
                "unknown command \(arguments[1]): use create-admin, verify-audit, rotate-keys, erasure-register or "
                    + "reapply-erasures, or no argument to serve")
        }
    }

    /// Creates an admin account; refuses when an admin exists, unless `force`.
    public static func createAdmin(
        email: String, password: String, force: Bool, database: Database, settings: AccountsSettings
    ) async throws -> UUID {
        try await migrate(database, settings: settings)
        let exists = try await database.withConnection { connection in
            try connection.queryOne(
                "SELECT 1 FROM accounts WHERE 'admin' = ANY (roles) AND erased_at IS NULL AND disabled_at IS NULL") != nil
        }
        if exists && !force {
            throw ServiceError(.conflict, "an admin exists already; use --force to add another")
        }
        var rules = FieldRules()
        rules.email(email)
        rules.password(password)
        try rules.check()
        let handlers = AccountsHandlers(database: database, settings: settings, logger: Logger(label: "accounts.command") { _ in SwiftLogNoOpLogHandler() })
        let account = try await handlers.create(
            email: email, password: password, displayName: "Administrator", roles: ["admin"], actorId: nil,
            actorRoles: ["system"], action: "platform.create-admin")
        return account.id
    }

    /// The seq of the first audit entry that breaks the chain, or nil when it all verifies.
    public static func verifyAudit(database: Database, settings: AccountsSettings) async throws -> Int64? {
        try await verifyAudit(database: database, audit: settings.audit)
    }

    static func verifyAudit(database: Database, audit: AuditLog) async throws -> Int64? {
        try await database.transaction(.repeatableRead) { connection in
            // The whole chain is read at once: it may take longer than an ordinary statement.
            try connection.liftStatementTimeout()
            return try audit.firstBrokenSeq(on: connection)
        }
    }

    /// The platform tables and the accounts schema, as a command needs them.
    public static func migrate(_ database: Database, settings: AccountsSettings) async throws {
        try await database.migrate(PlatformTables.migrations, table: PlatformTables.migrationTable)
        try await migrateSchema(database, settings: settings)
    }

    /// The accounts schema's own migrations, as the service applies them at start-up: up to 004,
    /// then the rows from before 004 sealed (which needs the keys), then the rest.
    static func migrateSchema(_ database: Database, settings: AccountsSettings) async throws {
        guard let folder = AccountsService.migrations else { return }
        let migrations = try Migration.load(from: folder)
        try await database.migrate(migrations.filter { $0.version <= PersonalDataSealing.sealedColumnsMigration })
        try await PersonalDataSealing.sealPlainRows(database: database, records: AccountRecords(settings: settings))
        let applied = try await database.migrate(migrations)
        // Only the start that brings in the keyed chain keys the head it finds. Keying whatever
        // unkeyed head a later start finds would let someone who rewrote the table and removed
        // every MAC have the forgery keyed by the next restart.
        if applied.contains(keyedAuditChainMigration) {
            try await keyAuditHead(database, audit: settings.audit)
        }
    }

    /// The migration that keys the audit chain (007).
    static let keyedAuditChainMigration = 7

    /// Keys the head of an audit chain written before it was keyed (migration 007), once, after
    /// checking the chain as it stands; a broken chain stops the start-up.
    static func keyAuditHead(_ database: Database, audit: AuditLog) async throws {
        let keyed = try await database.transaction { connection in
            try connection.liftStatementTimeout()
            return try audit.anchorHead(on: connection)
        }
        if keyed {
            Logger(label: "advisor.accounts").notice("the audit chain's head is now keyed; later entries carry their own MAC")
        }
    }

    private static func withDatabase(
        _ environment: [String: String], needsKey: Bool = true,
        _ body: (Database, AccountsSettings?) async throws -> Int32
    ) async -> Int32 {
        var reader = ConfigReader(environment: environment)
        let url = reader.required("DATABASE_URL")
        let schema = reader.string("DATABASE_SCHEMA", default: ServiceName.accounts.rawValue)
        let settings = needsKey ? AccountsSettings.read(&reader) : nil
        do {
            try reader.validate()
        } catch {
            return fail("\(error)", status: 2)
        }
        let database = Database(
            DatabaseConfig(url: url, poolSize: 1, schema: schema, applicationName: "accounts-command"),
            logger: Logger(label: "accounts.command") { _ in SwiftLogNoOpLogHandler() })
        do {
            let status = try await body(database, settings)
            await database.close()
            return status
        } catch {
            await database.close()
            return fail("\(error)")
        }
    }

    private static func value(of option: String, in options: [String]) -> String? {
        guard let index = options.firstIndex(of: option), index + 1 < options.count else { return nil }
        return options[index + 1]
    }

    /// The first line of `handle`.
    private static func firstLine(of handle: FileHandle) async -> String? {
        await allLines(of: handle).first.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Every line of `handle`, read on a thread of its own: a blocking read never holds the cooperative pool.
    private static func allLines(of handle: FileHandle) async -> [String] {
        await withCheckedContinuation { continuation in
            Thread {
                let data = handle.readDataToEndOfFile()
                let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                continuation.resume(returning: lines.map(String.init))
            }.start()
        }
    }

    private static func fail(_ message: String, status: Int32 = 1) -> Int32 {
        FileHandle.standardError.write(Data("accounts: \(message)\n".utf8))
        return status
    }
}
