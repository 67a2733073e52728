import Foundation
import Models
import Store

/// The register of erasures: which account was erased, by which erasure, when. It holds no
/// personal data, so it survives the erasures it records, and it is what makes a restore safe: a
/// backup taken before an erasure still holds that person's sealed data and sealed key, so after
/// restoring it the operator re-applies the register taken from the live system (see README,
/// "Restoring a backup").
enum ErasureRegister {
    /// One line of the register, as `accounts erasure-register` prints it (JSON).
    struct Entry: Codable, Equatable {
        var erasureId: UUID
        var accountId: UUID
        var requestedAt: Date
    }

    static func entries(database: Database) async throws -> [Entry] {
        try await database.withConnection { connection in
            try connection.query("SELECT erasure_id, account_id, requested_at FROM erasures ORDER BY requested_at, erasure_id")
                .map { row in
                    Entry(
                        erasureId: try row.decode("erasure_id"), accountId: try row.decode("account_id"),
                        requestedAt: try row.decode("requested_at"))
                }
        }
    }

    /// Applies again every erasure of `entries` that the database does not hold (a restored
    /// backup older than them): the account is scrubbed and its key destroyed, the erasure is
    /// recorded under its own id and announced again, so every other service erases the person
    /// too. An erasure already recorded is left alone. Returns how many were applied.
    static func reapply(_ entries: [Entry], database: Database, audit: AuditLog) async throws -> Int {
        var applied = 0
        for entry in entries {
            let done = try await database.transaction { connection -> Bool in
                guard
                    try connection.queryOne("SELECT 1 FROM erasures WHERE erasure_id = $1", entry.erasureId) == nil,
                    try connection.queryOne("SELECT 1 FROM accounts WHERE id = $1", entry.accountId) != nil
                else { return false }
                try AccountsHandlers.scrub(entry.accountId, on: connection)
                try connection.execute(
                    "INSERT INTO erasures (erasure_id, account_id, requested_at) VALUES ($1, $2, $3)", entry.erasureId,
                    entry.accountId, entry.requestedAt)
                try audit.append(
                    .init(
                        actorId: nil, actorRoles: ["system"], action: "privacy.erasure-reapplied", subjectId: entry.accountId,
                        details: ["erasureId": entry.erasureId.uuidString.lowercased()]), on: connection)
                try AccountsHandlers.confirm(
                    erasureId: entry.erasureId, service: ServiceName.accounts.rawValue, audit: audit, on: connection)
                let event = Privacy.ErasureRequested(
                    erasureId: entry.erasureId, accountId: entry.accountId, requestedAt: entry.requestedAt)
                try Outbox.append(
                    type: Privacy.ErasureRequested.type,
                    payload: String(decoding: try WireCoding.encoder().encode(event), as: UTF8.self), on: connection)
                return true
            }
            if done { applied += 1 }
        }
        return applied
    }
}
