import Foundation
import Models
import PlatformSecurity
import Store

/// The append-only audit log: every entry chained to the previous one by a SHA-256 hash, so a
/// changed, inserted or removed entry breaks the chain where it happened; and keyed, so that whoever
/// can write the table but does not hold the key cannot rewrite it and recompute the chain.
///
/// Each entry's `mac` is an HMAC-SHA256 of its place and hash under `key` (derived from
/// `ACCOUNTS_EMAIL_INDEX_KEY`, which the database never holds), and the head row carries an HMAC of
/// the head (`head_mac`). Entries written before the chain was keyed (migration 007) keep a NULL
/// mac; the head, keyed by the start-up that applied that migration, and every keyed entry after
/// them, whose hash covers them, vouch for them.
struct AuditLog: Sendable {
    /// What an entry records: who did what to whom, with details that hold ids, never personal data.
    struct Entry {
        var actorId: UUID?
        var actorRoles: [String]
        var action: String
        var subjectId: UUID?
        var details: [String: String] = [:]
    }

    /// The HMAC key of the chain.
    let key: Data

    /// Appends `entry` inside the caller's transaction. A lock on the head table serializes
    /// appends, so the chain stays linear. `LOCK TABLE` takes no snapshot, so a repeatable-read
    /// transaction that appends first (an export) takes its snapshot after the lock and sees the
    /// current head; one that read anything before appending may still lose to a concurrent
    /// append, and then gets a serialization failure, never a fork.
    func append(_ entry: Entry, on connection: Connection) throws {
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
        let line = Self.canonicalLine(
            seq: seq, micros: try canonical.decode("micros", as: Int64.self), actorId: entry.actorId,
            actorRoles: entry.actorRoles, action: entry.action, subjectId: entry.subjectId,
            details: try canonical.decode("details", as: String.self))
        let hash = SHA256.hash(previous + Data(line.utf8))
        try connection.execute(
            """
            INSERT INTO audit_log (seq, at, actor_id, actor_roles, action, subject_id, details, prev_hash, hash, mac)
            VALUES ($1, now(), $2, $3::text[], $4, $5, $6::jsonb, $7, $8, $9)
            """,
            seq, entry.actorId, entry.actorRoles, entry.action, entry.subjectId, SQLJSON(detailsJSON),
            previous, hash, mac(.entry, seq: seq, hash: hash))
        try connection.execute(
            "UPDATE audit_head SET last_seq = $1, last_hash = $2, head_mac = $3", seq, hash, mac(.head, seq: seq, hash: hash))
    }

    /// Keys the head of a chain written before it was keyed, if it is not yet and the chain
    /// verifies as it stands; returns whether it did. Run at start-up, under the head's lock.
    func anchorHead(on connection: Connection) throws -> Bool {
        try connection.executeScript("LOCK TABLE audit_head IN SHARE ROW EXCLUSIVE MODE")
        guard let head = try connection.queryOne("SELECT last_seq, last_hash FROM audit_head WHERE head_mac IS NULL FOR UPDATE")
        else { return false }
        guard try firstBrokenSeq(on: connection, requireHeadMAC: false) == nil else {
            throw ServiceError(.internalError, "the audit chain is broken; it was not keyed (run accounts verify-audit)")
        }
        let seq = try head.decode("last_seq", as: Int64.self)
        try connection.execute(
            "UPDATE audit_head SET head_mac = $1", mac(.head, seq: seq, hash: try head.decode("last_hash", as: Data.self)))
        return true
    }

    /// The seq of the first entry whose hash or MAC does not hold (or of the head, when entries at
    /// the end were removed or the head is not the keyed one); nil when the whole chain verifies.
    func firstBrokenSeq(on connection: Connection) throws -> Int64? {
        try firstBrokenSeq(on: connection, requireHeadMAC: true)
    }

    private func firstBrokenSeq(on connection: Connection, requireHeadMAC: Bool) throws -> Int64? {
        let rows = try connection.query(
            """
            SELECT seq, (extract(epoch FROM at) * 1000000)::bigint AS micros, actor_id,
                   array_to_json(actor_roles)::text AS roles, action, subject_id, details::text AS details,
                   prev_hash, hash, mac
            FROM audit_log ORDER BY seq
            """)
        var previous = Data(repeating: 0, count: SHA256.digestLength)
        var lastSeq: Int64 = 0
        var keyed = false
        for row in rows {
            let seq = try row.decode("seq", as: Int64.self)
            let roles = try JSONDecoder().decode([String].self, from: Data(try row.decode("roles", as: String.self).utf8))
            let line = Self.canonicalLine(
                seq: seq, micros: try row.decode("micros", as: Int64.self), actorId: try row.decode("actor_id"),
                actorRoles: roles, action: try row.decode("action"), subjectId: try row.decode("subject_id"),
                details: try row.decode("details"))
            let expected = SHA256.hash(previous + Data(line.utf8))
            guard seq == lastSeq + 1, ConstantTime.equals(try row.decode("prev_hash", as: Data.self), previous),
                ConstantTime.equals(try row.decode("hash", as: Data.self), expected)
            else { return seq }
            // Unkeyed entries can only be the oldest ones: none may follow a keyed entry.
            if let entryMAC = try row.decode("mac", as: Data?.self) {
                guard ConstantTime.equals(entryMAC, mac(.entry, seq: seq, hash: expected)) else { return seq }
                keyed = true
            } else if keyed {
                return seq
            }
            previous = expected
            lastSeq = seq
        }
        guard let head = try connection.queryOne("SELECT last_seq, last_hash, head_mac FROM audit_head"),
            try head.decode("last_seq", as: Int64.self) == lastSeq,
            ConstantTime.equals(try head.decode("last_hash", as: Data.self), previous)
        else { return lastSeq + 1 }
        if let headMAC = try head.decode("head_mac", as: Data?.self) {
            guard ConstantTime.equals(headMAC, mac(.head, seq: lastSeq, hash: previous)) else { return lastSeq + 1 }
        } else if requireHeadMAC {
            return lastSeq + 1
        }
        return nil
    }

    /// What a MAC vouches for: one entry, or the head of the chain (so an entry's MAC cannot be
    /// copied into the head to cut the newest entries off).
    enum Role: String {
        case entry, head
    }

    func mac(_ role: Role, seq: Int64, hash: Data) -> Data {
        HMAC.sha256(key: key, message: Data("audit.\(role.rawValue)\n\(seq)\n".utf8) + hash)
    }

    static func canonicalLine(
        seq: Int64, micros: Int64, actorId: UUID?, actorRoles: [String], action: String, subjectId: UUID?,
        details: String
    ) -> String {
        [
            String(seq), String(micros), actorId?.uuidString.lowercased() ?? "-", actorRoles.joined(separator: ","),
            action, subjectId?.uuidString.lowercased() ?? "-", details,
        ].joined(separator: "\n")
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
