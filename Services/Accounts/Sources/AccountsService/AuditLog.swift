import Foundation
import Models
import Security
import Store

/// The append-only audit log: every entry chained to the previous one by a SHA-256 hash, so a
/// changed, inserted or removed entry breaks the chain where it happened.
enum AuditLog {
    /// What an entry records: who did what to whom, with details that hold ids, never personal data.
    struct Entry {
        var actorId: UUID?
        var actorRoles: [String]
        var action: String
        var subjectId: UUID?
        var details: [String: String] = [:]
    }

    /// Appends `entry` inside the caller's transaction. A lock on the head table serializes
    /// appends, so the chain stays linear. `LOCK TABLE` takes no snapshot, so a repeatable-read
    /// transaction that appends first (an export) takes its snapshot after the lock and sees the
    /// current head; one that read anything before appending may still lose to a concurrent
    /// append, and then gets a serialization failure, never a fork.
    static func append(_ entry: Entry, on connection: Connection) throws {
        try connection.executeScript("LOCK TABLE audit_head IN SHARE ROW EXCLUSIVE MODE")
        guard let head = try connection.queryOne("SELECT last_seq, last_hash FROM audit_head FOR UPDATE") else {
            throw ServiceError(.internalError, "the audit head row is missing")
        }
        let seq = try head.decode("last_seq", as: Int64.self) + 1
        let previous = try head.decode("last_hash", as: Data.self)
        let detailsJSON = String(decoding: try JSONEncoder.sorted.encode(entry.details), as: UTF8.self)
        // The canonical forms come from the database, so appending and verifying hash the same text.
        guard
            let canonical = try connection.queryOne(
                "SELECT (extract(epoch FROM now()) * 1000000)::bigint AS micros, $1::jsonb::text AS details",
                detailsJSON)
        else { throw ServiceError(.internalError, "the audit entry could not be made canonical") }
        let line = canonicalLine(
            seq: seq, micros: try canonical.decode("micros", as: Int64.self), actorId: entry.actorId,
            actorRoles: entry.actorRoles, action: entry.action, subjectId: entry.subjectId,
            details: try canonical.decode("details", as: String.self))
        let hash = SHA256.hash(previous + Data(line.utf8))
        try connection.execute(
            """
            INSERT INTO audit_log (seq, at, actor_id, actor_roles, action, subject_id, details, prev_hash, hash)
            VALUES ($1, now(), $2, $3::text[], $4, $5, $6::jsonb, $7, $8)
            """,
            seq, entry.actorId, SQLTextArray(entry.actorRoles), entry.action, entry.subjectId, SQLJSON(detailsJSON),
            previous, hash)
        try connection.execute("UPDATE audit_head SET last_seq = $1, last_hash = $2", seq, hash)
    }

    /// The seq of the first entry whose hash does not hold (or of the head, when entries at the end
    /// were removed); nil when the whole chain verifies.
    static func firstBrokenSeq(on connection: Connection) throws -> Int64? {
        let rows = try connection.query(
            """
            SELECT seq, (extract(epoch FROM at) * 1000000)::bigint AS micros, actor_id,
                   array_to_json(actor_roles)::text AS roles, action, subject_id, details::text AS details,
                   prev_hash, hash
            FROM audit_log ORDER BY seq
            """)
        var previous = Data(repeating: 0, count: SHA256.digestLength)
        var lastSeq: Int64 = 0
        for row in rows {
            let seq = try row.decode("seq", as: Int64.self)
            let roles = try JSONDecoder().decode([String].self, from: Data(try row.decode("roles", as: String.self).utf8))
            let line = canonicalLine(
                seq: seq, micros: try row.decode("micros", as: Int64.self), actorId: try row.decode("actor_id"),
                actorRoles: roles, action: try row.decode("action"), subjectId: try row.decode("subject_id"),
                details: try row.decode("details"))
            let expected = SHA256.hash(previous + Data(line.utf8))
            guard seq == lastSeq + 1, ConstantTime.equals(try row.decode("prev_hash", as: Data.self), previous),
                ConstantTime.equals(try row.decode("hash", as: Data.self), expected)
            else { return seq }
            previous = expected
            lastSeq = seq
        }
        guard let head = try connection.queryOne("SELECT last_seq, last_hash FROM audit_head"),
            try head.decode("last_seq", as: Int64.self) == lastSeq,
            ConstantTime.equals(try head.decode("last_hash", as: Data.self), previous)
        else { return lastSeq + 1 }
        return nil
    }

    private static func canonicalLine(
        seq: Int64, micros: Int64, actorId: UUID?, actorRoles: [String], action: String, subjectId: UUID?,
        details: String
    ) -> String {
        [
            String(seq), String(micros), actorId?.uuidString.lowercased() ?? "-", actorRoles.joined(separator: ","),
            action, subjectId?.uuidString.lowercased() ?? "-", details,
        ].joined(separator: "\n")
    }
}

/// A `text[]` parameter, written as a PostgreSQL array literal with every element quoted.
struct SQLTextArray: SQLEncodable {
    var elements: [String]
    init(_ elements: [String]) { self.elements = elements }

    var sqlText: String? {
        let quoted = elements.map { element in
            "\"" + element.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }
}

extension JSONEncoder {
    /// Sorted keys, so equal values encode to equal text.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
