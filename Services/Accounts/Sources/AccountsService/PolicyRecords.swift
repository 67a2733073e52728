import Foundation
import Models
import Store

/// Privacy policy versions and who accepted which.
enum PolicyRecords {
    /// The version published last.
    static func current(on connection: Connection) throws -> Accounts.PolicyVersion {
        guard let row = try connection.queryOne("SELECT version, effective_date FROM policy_versions ORDER BY seq DESC LIMIT 1")
        else { throw ServiceError(.internalError, "no privacy policy version is published") }
        return Accounts.PolicyVersion(version: try row.decode("version"), effectiveDate: try row.decode("effective_date"))
    }

    static func accept(version: String, accountId: UUID, on connection: Connection) throws {
        try connection.execute("INSERT INTO policy_acceptances (account_id, version) VALUES ($1, $2)", accountId, version)
    }
}
