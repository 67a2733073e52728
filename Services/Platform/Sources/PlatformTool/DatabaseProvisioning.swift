import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Creates, or brings up to date, one login role and one schema per worker service and for the
/// integration service, so that each one's role reaches its own schema and nothing else. Safe to
/// run again: passwords are reset to the configured ones and nothing else changes.
enum DatabaseProvisioning {
    /// Who gets a role and a schema: every worker service, and integration (webhook endpoints and deliveries).
    static let owners = ServiceName.all.map(\.rawValue) + ["integration"]

    static func run(environment: [String: String]) async throws {
        var reader = ConfigReader(environment: environment, dotEnvPath: nil)
        let adminURL = reader.required("DATABASE_ADMIN_URL")
        var passwords: [(String, String)] = []
        for service in owners {
            let name = "DB_PASSWORD_\(service.uppercased())"
            let password = reader.required(name)
            if !password.isEmpty && password.count < 16 {
                reader.problem("\(name) must be at least 16 characters")
            }
            passwords.append((service, password))
        }
        try reader.validate()
        let roles = passwords

        let database = Database(DatabaseConfig(url: adminURL, poolSize: 1), logger: Logger(label: "platform.provision"))
        defer { Task { await database.close() } }
        try await database.transaction { connection in
            // Serialize concurrent provisioning runs (several containers starting at once).
            try connection.execute("SELECT pg_advisory_xact_lock(7265636576)")
            try connection.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            try connection.execute("REVOKE ALL ON DATABASE \(try currentDatabase(connection)) FROM PUBLIC")
            // Trigram matching for the directory's search; a service role may not create extensions.
            try connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            for (role, password) in roles {
                let exists = try connection.queryOne("SELECT 1 AS found FROM pg_roles WHERE rolname = $1", role) != nil
                // Role names come from a fixed list of identifiers; the password is a literal that
                // PostgreSQL cannot take as a bind parameter in DDL, so it is quoted with quote_literal.
                let literal = try connection.queryOne("SELECT quote_literal($1) AS literal", password)!
                    .decode("literal", as: String.self)
                let verb = exists ? "ALTER" : "CREATE"
                try connection.execute(
                    "\(verb) ROLE \(role) LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD \(literal)")
                try connection.execute("GRANT CONNECT, TEMPORARY ON DATABASE \(try currentDatabase(connection)) TO \(role)")
                try connection.execute("CREATE SCHEMA IF NOT EXISTS \(role) AUTHORIZATION \(role)")
                try connection.execute("ALTER ROLE \(role) SET search_path TO \(role)")
            }
        }
        print("provisioned roles and schemas: \(owners.joined(separator: ", "))")
    }

    /// The database's name, quoted as an identifier.
    private static func currentDatabase(_ connection: Connection) throws -> String {
        try connection.queryOne("SELECT quote_ident(current_database()) AS name")!.decode("name", as: String.self)
    }
}
