import Foundation
import Models
import PlatformSecurity
import Store

/// Moving personal data from plain columns to sealed ones (migrations 004 and 005), and
/// re-wrapping every account's data key under the newest master key.
enum PersonalDataSealing {
    /// The migration that adds the sealed columns; the next one drops the plain ones.
    static let sealedColumnsMigration = 4

    /// Seals what rows written before migration 004 hold in clear, then clears it; nothing to do
    /// once 005 has dropped the plain columns. Runs under the migrations' advisory lock's own key,
    /// so instances starting together seal each row once.
    static func sealPlainRows(database: Database, records: AccountRecords) async throws {
        try await database.transaction { connection in
            // Sealing a large table takes a while, and other instances wait here for it.
            try connection.liftStatementTimeout()
            try connection.execute("SELECT pg_advisory_xact_lock(hashtext('accounts.seal-plain-rows'))")
            guard
                try connection.queryOne(
                    """
                    SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'accounts' AND column_name = 'email'
                    """) != nil
            else { return }
            let accounts = try connection.query(
                """
                SELECT id, email, display_name, country, source, erased_at IS NOT NULL AS erased FROM accounts
                WHERE email IS NOT NULL OR display_name IS NOT NULL
                """)
            for row in accounts {
                let id = try row.decode("id", as: UUID.self)
                if try row.decode("erased", as: Bool.self) {
                    try connection.execute(
                        "UPDATE accounts SET email = NULL, email_normalized = NULL, display_name = NULL, country = NULL, source = NULL WHERE id = $1",
                        id)
                    continue
                }
                let email = try row.decode("email", as: String?.self) ?? ""
                let personal = AccountRecords.PersonalFields(
                    email: email, displayName: try row.decode("display_name", as: String?.self) ?? "",
                    country: try row.decode("country"), source: try row.decode("source"))
                let key = try records.dataKey(for: id, on: connection)
                do {
                    try connection.execute(
                        """
                        UPDATE accounts SET personal_sealed = $2, email_index = $3,
                            email = NULL, email_normalized = NULL, display_name = NULL, country = NULL, source = NULL
                        WHERE id = $1
                        """, id, try AccountRecords.seal(personal, with: key, id: id), records.emailIndex(email))
                } catch let error as StoreError where error == .uniqueViolation {
                    // Two live accounts whose emails differed under the old rule (lower case only)
                    // are one address under case folding; an operator decides which keeps it.
                    throw ServiceError(
                        .conflict,
                        "account \(id.uuidString.lowercased())'s email is, case-folded, the email of another live account; "
                            + "change one of them before this release can seal the accounts")
                }
            }
            for table in ["sessions", "sign_in_attempts"] {
                let rows = try connection.query(
                    "SELECT ctid::text AS row, account_id, ip, user_agent FROM \(table) WHERE ip IS NOT NULL OR user_agent IS NOT NULL")
                for row in rows {
                    let id = try row.decode("account_id", as: UUID.self)
                    let ip = try row.decode("ip", as: String?.self) ?? ""
                    // An erased account's rows were emptied and its key is gone: nothing to seal.
                    let sealed: Data? =
                        ip.isEmpty
                        ? nil
                        : try records.sealClient(
                            .init(ipAddress: ip, userAgent: try row.decode("user_agent", as: String?.self) ?? ""), for: id,
                            on: connection)
                    try connection.execute(
                        "UPDATE \(table) SET client_sealed = $2, ip = NULL, user_agent = NULL WHERE ctid = $1::tid",
                        try row.decode("row", as: String.self), sealed)
                }
            }
        }
    }

    /// Seals every account's data key under the ring's newest master key; returns how many were
    /// re-wrapped. Keys already under it are left alone, so running it again does nothing.
    static func rewrapKeys(database: Database, keyRing: KeyRing) async throws -> Int {
        try await database.transaction { connection in
            var rewrapped = 0
            for row in try connection.query("SELECT account_id, sealed_key FROM account_keys FOR UPDATE") {
                let id = try row.decode("account_id", as: UUID.self)
                let sealed = try row.decode("sealed_key", as: Data.self)
                guard try KeyRing.keyID(of: sealed) != keyRing.current.id else { continue }
                let material = try keyRing.open(sealed, associatedData: AccountRecords.binding(id))
                try connection.execute(
                    "UPDATE account_keys SET sealed_key = $2 WHERE account_id = $1", id,
                    try keyRing.seal(material, associatedData: AccountRecords.binding(id)))
                rewrapped += 1
            }
            return rewrapped
        }
    }
}
