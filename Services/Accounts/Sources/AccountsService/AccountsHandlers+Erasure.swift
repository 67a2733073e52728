import Foundation
import Logging
import Models
import PlatformSecurity
import ServiceKit
import Store

/// The right to erasure: accounts erases its own data at once, announces the erasure to every
/// other service and collects their confirmations, whatever restarts in between.
extension AccountsHandlers {
    /// The services that confirm an erasure, accounts included.
    static let erasureParticipants: [ServiceName] = ServiceName.all

    func requestErasure(_ request: Accounts.RequestErasure.Request, caller: Caller, deadline: Date) async throws
        -> Accounts.RequestErasure.Response
    {
        let id = try Self.accountId(of: caller)
        let records = self.records
        guard let found = try await database.withConnection({ try records.load(id, on: $0) }) else {
            throw AccountsErrors.notFound
        }
        try await checkCurrentPassword(request.password, of: found, field: "password", deadline: deadline)
        let erasureId = UUID()
        let roles = found.account.roles
        try await database.transaction { connection in
            guard try Self.exists(id, on: connection) else { throw AccountsErrors.notFound }
            if roles.contains("admin") { try Self.requireAnotherAdmin(besides: id, on: connection) }
            try Self.scrub(id, on: connection)
            guard let requested = try connection.queryOne(
                "INSERT INTO erasures (erasure_id, account_id) VALUES ($1, $2) RETURNING requested_at", erasureId, id)
            else { throw ServiceError(.internalError, "the erasure was not recorded") }
            try audit.append(
                .init(actorId: id, actorRoles: roles, action: "privacy.erasure-requested", subjectId: id,
                      details: ["erasureId": erasureId.uuidString.lowercased()]), on: connection)
            try Self.confirm(erasureId: erasureId, service: ServiceName.accounts.rawValue, audit: audit, on: connection)
            let event = Privacy.ErasureRequested(erasureId: erasureId, accountId: id, requestedAt: try requested.decode("requested_at"))
            try Outbox.append(
                type: Privacy.ErasureRequested.type,
                payload: String(decoding: try WireCoding.encoder().encode(event), as: UTF8.self), on: connection)
        }
        logger.info("erasure requested", metadata: ["account.id": "\(id)", "erasure.id": "\(erasureId)"])
        return Accounts.RequestErasure.Response(erasureId: erasureId)
    }

    func erasureStatus(_ request: Accounts.ErasureStatus.Request, caller: Caller) async throws -> Accounts.ErasureProgress {
        guard caller.accountId != nil || caller.has(.system) else { throw AccountsErrors.unauthenticated }
        guard caller.has(.legal) || caller.has(.admin) || caller.has(.system) else { throw AccountsErrors.forbidden }
        return try await database.withConnection { connection in
            guard let row = try connection.queryOne(
                "SELECT requested_at, completed_at FROM erasures WHERE erasure_id = $1", request.erasureId)
            else { throw ServiceError(.notFound, "no such erasure") }
            let confirmed = try connection.query(
                "SELECT service FROM erasure_confirmations WHERE erasure_id = $1 ORDER BY service", request.erasureId
            ).map { try $0.decode("service", as: String.self) }
            return Accounts.ErasureProgress(
                erasureId: request.erasureId, requestedAt: try row.decode("requested_at"), confirmed: confirmed,
                completedAt: try row.decode("completed_at"))
        }
    }

    /// Removes the person from the accounts schema: the row stays (ids in the audit log point at it)
    /// with nothing personal left, the data key is deleted so anything sealed with it is unreadable,
    /// every session ends. Running it twice is harmless.
    static func scrub(_ id: UUID, on connection: Connection) throws {
        try connection.execute(
            """
            UPDATE accounts SET erased_at = coalesce(erased_at, now()), email_index = NULL, personal_sealed = NULL,
                password_hash = '', phone_sealed = NULL, phone_index = NULL, phone_pending_sealed = NULL,
                phone_code_hash = NULL
            WHERE id = $1
            """, id)
        try connection.execute("DELETE FROM account_keys WHERE account_id = $1", id)
        try connection.execute("UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL", id)
        try AccountsHandlers.revokeGrants(of: id, partner: nil, on: connection)
        try connection.execute("UPDATE sessions SET client_sealed = NULL WHERE account_id = $1", id)
        try connection.execute("DELETE FROM sign_in_attempts WHERE account_id = $1", id)
        try connection.execute("DELETE FROM known_clients WHERE account_id = $1", id)
        try connection.execute("DELETE FROM social_identities WHERE account_id = $1", id)
        try connection.execute("DELETE FROM partner_reads WHERE account_id = $1", id)
        try connection.execute("DELETE FROM consents WHERE account_id = $1", id)
        try connection.execute("DELETE FROM consent_changes WHERE account_id = $1", id)
    }

    /// Records one service's confirmation; the erasure completes when every participant confirmed.
    /// Idempotent: a repeated confirmation changes nothing.
    static func confirm(erasureId: UUID, service: String, audit: AuditLog, on connection: Connection) throws {
        guard try connection.queryOne("SELECT 1 FROM erasures WHERE erasure_id = $1 FOR UPDATE", erasureId) != nil else {
            return
        }
        try connection.execute(
            "INSERT INTO erasure_confirmations (erasure_id, service) VALUES ($1, $2) ON CONFLICT DO NOTHING", erasureId, service)
        let confirmed = Set(
            try connection.query("SELECT service FROM erasure_confirmations WHERE erasure_id = $1", erasureId)
                .map { try $0.decode("service", as: String.self) })
        if Set(erasureParticipants.map(\.rawValue)).isSubset(of: confirmed) {
            let completed = try connection.execute(
                "UPDATE erasures SET completed_at = now() WHERE erasure_id = $1 AND completed_at IS NULL", erasureId)
            if completed > 0 {
                try audit.append(
                    .init(actorId: nil, actorRoles: ["system"], action: "privacy.erasure-completed", subjectId: nil,
                          details: ["erasureId": erasureId.uuidString.lowercased()]), on: connection)
            }
        }
    }

    /// One subscription per other service, recording its `<service>.erasure-completed.v1`.
    static func erasureConfirmations(audit: AuditLog) -> [EventSubscription] {
        erasureParticipants.filter { $0 != .accounts }.map { service in
            EventSubscription(producer: service).on(type: Privacy.ErasureCompleted.type(for: service)) { payload, _, connection in
                let completed = try WireCoding.decoder().decode(Privacy.ErasureCompleted.self, from: payload)
                try confirm(erasureId: completed.erasureId, service: service.rawValue, audit: audit, on: connection)
            }
        }
    }
}
