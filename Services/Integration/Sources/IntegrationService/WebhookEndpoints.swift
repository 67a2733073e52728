import Bus
import Foundation
import Models
import PlatformSecurity
import ServiceKit
import Store

/// A webhook endpoint as its partner sees it: the secret only in the answer that made it.
struct WebhookEndpoint: Codable, Sendable, Equatable {
    var id: UUID
    var url: String
    var description: String
    var eventTypes: [String]
    var enabled: Bool
    /// Why it was disabled: `gone` (it answered 410), `failing` (every attempt failed too long), `partner`.
    var disabledReason: String?
    /// Since when every attempt has failed; absent while it answers.
    var failingSince: Date?
    var createdAt: Date
    var secret: String?
}

/// One attempt to deliver a message to an endpoint.
struct WebhookAttempt: Codable, Sendable, Equatable {
    var messageId: String
    var eventType: String
    var attemptedAt: Date
    /// The endpoint's HTTP status; absent when no answer came.
    var responseStatus: Int?
    /// What went wrong when no answer came (`timeout`, `connection_failed`, `address_not_allowed`).
    var error: String?
    var durationMs: Int
}

/// Partners' webhook endpoints, kept in the integration service's own schema: every operation is
/// scoped to the partner whose key made the request, so another partner's endpoint is 404.
struct WebhookEndpoints: Sendable {
    let database: Database
    /// Seals signing secrets and idempotent answers at rest.
    let keys: KeyRing
    let settings: WebhookSettings
    /// Wakes this instance's deliverer when a message is due at once.
    let wakeup: DeliveryWakeup

    /// The most endpoints one partner may have.
    static let maxPerPartner = 10

    struct Draft: JSONRequestBody {
        var url: String
        var eventTypes: [String]
        var description: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case url, eventTypes, description }
    }

    struct Change: JSONRequestBody {
        var url: String?
        var eventTypes: [String]?
        var description: String?
        var enabled: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case url, eventTypes, description, enabled }
    }

    struct Replay: JSONRequestBody {
        var messageId: String?
        var since: Date?
        enum CodingKeys: String, CodingKey, CaseIterable { case messageId, since }
    }

    /// Checks what a partner gives (its URL against the address policy); the field errors, if any.
    func check(url: String?, eventTypes: [String]?, description: String?) async throws {
        var errors: [FieldError] = []
        if let url {
            do {
                try await WebhookAddressPolicy.check(url, allowPrivate: settings.allowPrivateAddresses)
            } catch {
                errors.append(FieldError(field: "url", code: error.rawValue))
            }
        }
        if let eventTypes {
            if eventTypes.isEmpty || eventTypes.count > StandardWebhooks.eventTypes.count {
                errors.append(FieldError(field: "eventTypes", code: "invalid"))
            } else if let unknown = eventTypes.firstIndex(where: { !StandardWebhooks.eventTypes.contains($0) }) {
                errors.append(FieldError(field: "eventTypes.\(unknown)", code: "unknown_event_type"))
            }
        }
        if let description, description.count > 200 { errors.append(FieldError(field: "description", code: "too_long")) }
        guard errors.isEmpty else {
            throw ServiceError(
                .validationFailed,
                errors.contains { $0.code == WebhookAddressPolicy.Refusal.addressNotAllowed.rawValue }
                    ? "Webhooks go to public addresses only: this URL's host is private, loopback or link-local."
                    : "Some fields are not valid.", fieldErrors: errors)
        }
    }

    func create(_ draft: Draft, partnerId: String, on connection: Connection) throws -> WebhookEndpoint {
        // Counted under a lock of the partner's, so two creations at once cannot both pass the limit.
        try connection.execute("SELECT pg_advisory_xact_lock(hashtext('webhook-endpoints:' || $1))", partnerId)
        let count = try connection.queryOne("SELECT count(*)::int AS n FROM webhook_endpoints WHERE partner_id = $1", partnerId)?
            .decode("n", as: Int.self) ?? 0
        guard count < Self.maxPerPartner else {
            throw ServiceError(.conflict, "A partner may have \(Self.maxPerPartner) webhook endpoints; delete one first.")
        }
        let secret = StandardWebhookSignature.newSecret()
        let id = UUID()
        try connection.execute(
            "INSERT INTO webhook_endpoints (id, partner_id, url, description, event_types, secret) VALUES ($1, $2, $3, $4, $5, $6)",
            id, partnerId, draft.url, draft.description ?? "", Array(Set(draft.eventTypes)).sorted(), try seal(secret, endpoint: id))
        var endpoint = try load(id, partnerId: partnerId, on: connection)
        endpoint.secret = secret
        return endpoint
    }

    func list(partnerId: String) async throws -> [WebhookEndpoint] {
        try await database.withConnection { connection in
            try connection.query("\(Self.select) WHERE partner_id = $1 ORDER BY created_at, id", partnerId).map(Self.endpoint)
        }
    }

    func get(_ id: UUID, partnerId: String) async throws -> WebhookEndpoint {
        try await database.withConnection { try load(id, partnerId: partnerId, on: $0) }
    }

    /// Changes what is given; enabling a disabled endpoint clears why it was disabled and its failures.
    func update(_ id: UUID, _ change: Change, partnerId: String) async throws -> WebhookEndpoint {
        try await database.transaction { connection in
            _ = try load(id, partnerId: partnerId, on: connection)
            try connection.execute(
                """
                UPDATE webhook_endpoints SET url = coalesce($3, url), description = coalesce($4, description),
                    event_types = coalesce($5, event_types),
                    enabled = coalesce($6, enabled),
                    disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason WHEN $6 THEN NULL ELSE 'partner' END,
                    failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END,
                    paused_until = CASE WHEN $6 THEN NULL ELSE paused_until END
                WHERE id = $1 AND partner_id = $2
                """, id, partnerId, change.url, change.description, change.eventTypes.map { Array(Set($0)).sorted() }, change.enabled)
            return try load(id, partnerId: partnerId, on: connection)
        }
    }

    /// Deletes the endpoint, its deliveries and their attempts.
    func delete(_ id: UUID, partnerId: String) async throws {
        let deleted = try await database.withConnection { connection in
            try connection.queryOne("DELETE FROM webhook_endpoints WHERE id = $1 AND partner_id = $2 RETURNING id", id, partnerId)
        }
        guard deleted != nil else { throw Self.notFound }
    }

    /// A new secret; the old one keeps signing beside it for `rotationOverlapSeconds`.
    func rotateSecret(_ id: UUID, partnerId: String, on connection: Connection) throws -> String {
        guard
            let row = try connection.queryOne(
                "SELECT secret FROM webhook_endpoints WHERE id = $1 AND partner_id = $2 FOR UPDATE", id, partnerId)
        else { throw Self.notFound }
        let secret = StandardWebhookSignature.newSecret()
        try connection.execute(
            """
            UPDATE webhook_endpoints SET previous_secret = $2, previous_until = now() + make_interval(secs => $3), secret = $4
            WHERE id = $1
            """, id, try row.decode("secret", as: Data.self), settings.rotationOverlapSeconds, try seal(secret, endpoint: id))
        return secret
    }

    /// A `webhook.test` message for this endpoint alone, due at once (409 while it is disabled).
    func sendTest(_ id: UUID, partnerId: String, on connection: Connection) throws -> String {
        guard try load(id, partnerId: partnerId, on: connection).enabled else {
            throw ServiceError(.conflict, "This endpoint is disabled: enable it first (PATCH {\"enabled\": true}).")
        }
        let messageId = StandardWebhooks.messageId()
        let body = try StandardWebhooks.body(type: StandardWebhooks.testEventType, at: Date(), data: TestMessage(endpointId: id))
        try connection.execute(
            "INSERT INTO webhook_messages (id, partner_id, event_type, payload) VALUES ($1, $2, $3, $4)", messageId, partnerId,
            StandardWebhooks.testEventType, body)
        try connection.execute("INSERT INTO webhook_deliveries (endpoint_id, message_id) VALUES ($1, $2)", id, messageId)
        wakeup.wake()
        return messageId
    }

    /// A message of `type` for every partner (or only `partner`) with an endpoint subscribed to it, due at once to each
    /// such endpoint that is enabled (in the transaction that applies the event it comes from). A
    /// disabled endpoint gets none, but the message is kept for a replay once it is enabled again.
    func publish(_ type: String, at: Date, data: some Encodable & Sendable, to partner: String? = nil, on connection: Connection) throws {
        let partners = try connection.query(
            "SELECT DISTINCT partner_id FROM webhook_endpoints WHERE $1 = ANY (event_types) AND ($2::text IS NULL OR partner_id = $2)", type,
            partner)
        guard !partners.isEmpty else { return }
        let body = try StandardWebhooks.body(type: type, at: at, data: data)
        for row in partners {
            let partnerId: String = try row.decode("partner_id")
            let messageId = StandardWebhooks.messageId()
            try connection.execute(
                "INSERT INTO webhook_messages (id, partner_id, event_type, payload) VALUES ($1, $2, $3, $4)", messageId, partnerId, type, body)
            try connection.execute(
                """
                INSERT INTO webhook_deliveries (endpoint_id, message_id)
                SELECT id, $2 FROM webhook_endpoints WHERE partner_id = $1 AND enabled AND $3 = ANY (event_types)
                """, partnerId, messageId, type)
        }
        wakeup.wake()
    }

    /// `advisor.status-changed`'s data: ids as the partner API writes them.
    private struct StatusChanged: Encodable, Sendable {
        var advisorId: UUID
        var status: Directory.Status
    }

    /// `grant.revoked`'s data: the person as the partner knows them.
    private struct GrantEnded: Encodable, Sendable {
        var subject: String
    }

    /// `webhook.test`'s data.
    private struct TestMessage: Encodable, Sendable {
        var endpointId: UUID
    }

    /// The events of other services that become webhooks.
    func subscriptions() -> [EventSubscription] {
        [
            EventSubscription(producer: .directory).on(Directory.AdvisorStatusChanged.self) { event, _, connection in
                try publish("advisor.status-changed", at: event.at, data: StatusChanged(advisorId: event.advisorId, status: event.status), on: connection)
            },
            EventSubscription(producer: .accounts).on(Accounts.GrantRevoked.self) { event, _, connection in
                try publish("grant.revoked", at: event.at, data: GrantEnded(subject: event.subject), to: event.partnerId, on: connection)
            },
        ]
    }

    /// Messages (with their deliveries and attempts) are kept 30 days; Idempotency-Keys a day.
    func retention() -> [MaintenanceTask] {
        [
            MaintenanceTask(name: "integration.prune-webhook-messages", interval: .seconds(3600)) { database in
                try await MaintenanceTask.deleteInBatches(database) { connection in
                    try connection.execute(
                        """
                        DELETE FROM webhook_messages WHERE id IN (
                            SELECT id FROM webhook_messages WHERE created_at < now() - interval '30 days' LIMIT \(MaintenanceTask.batch))
                        """)
                }
            },
            MaintenanceTask(name: "integration.prune-idempotency-keys", interval: .seconds(3600)) { database in
                try await MaintenanceTask.deleteInBatches(database) { connection in
                    try connection.execute(
                        """
                        DELETE FROM partner_requests WHERE (partner_id, idempotency_key) IN (
                            SELECT partner_id, idempotency_key FROM partner_requests WHERE created_at < now() - interval '1 day'
                            LIMIT \(MaintenanceTask.batch))
                        """)
                }
            },
        ]
    }

    /// Tells each partner whose endpoint the platform disabled, through notifications (an email
    /// to its contact); a notice stays due until notifications has taken it, and its key makes a
    /// second telling (another instance, a retry) the same notice. How many were told.
    func tellOwners(bus: BusClient) async throws -> Int {
        let due = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT id, partner_id, url, disabled_reason, owner_notice_key FROM webhook_endpoints
                WHERE owner_notice_key IS NOT NULL ORDER BY owner_notice_key LIMIT 20
                """)
        }
        var told = 0
        for row in due {
            let id: UUID = try row.decode("id")
            let key: String = try row.decode("owner_notice_key")
            _ = try await bus.call(
                Notifications.PartnerNotice.self,
                .init(
                    partnerId: try row.decode("partner_id"), kind: Notifications.PartnerNotice.webhookEndpointDisabled,
                    params: [
                        "endpointId": id.uuidString.lowercased(), "url": try row.decode("url"),
                        "reason": try row.decode("disabled_reason", as: String?.self) ?? "failing",
                    ], key: key),
                as: .system)
            try await database.withConnection { connection in
                try connection.execute("UPDATE webhook_endpoints SET owner_notice_key = NULL WHERE id = $1 AND owner_notice_key = $2", id, key)
            }
            told += 1
        }
        return told
    }

    /// Sends one message again, or every message since a time this endpoint has not taken; how many.
    func replay(_ id: UUID, _ replay: Replay, partnerId: String, on connection: Connection) throws -> Int {
        _ = try load(id, partnerId: partnerId, on: connection)
        let queued: Int
        switch (replay.messageId, replay.since) {
        case (let messageId?, nil):
            guard (1...100).contains(messageId.utf8.count) else {
                throw ServiceError(.validationFailed, "messageId is 1 to 100 characters.", fieldErrors: [FieldError(field: "messageId", code: "invalid")])
            }
            guard try connection.queryOne("SELECT 1 FROM webhook_messages WHERE id = $1 AND partner_id = $2", messageId, partnerId) != nil
            else { throw ServiceError(.notFound, "This partner has no message with this id.") }
            try connection.execute(
                """
                INSERT INTO webhook_deliveries (endpoint_id, message_id) VALUES ($1, $2)
                ON CONFLICT (endpoint_id, message_id) DO UPDATE SET status = 'pending', attempts = 0, due_at = now(), lease_until = NULL
                """, id, messageId)
            queued = 1
        case (nil, let since?):
            guard since > Date().addingTimeInterval(-30 * 86_400) else {
                throw ServiceError(
                    .validationFailed, "Messages are kept 30 days: since must be within them.",
                    fieldErrors: [FieldError(field: "since", code: "out_of_range")])
            }
            // Every message of the types it takes that it has not taken: failed, still trying, or
            // never sent to it (published while it was disabled).
            queued = try connection.queryOne(
                """
                WITH replayed AS (
                    INSERT INTO webhook_deliveries (endpoint_id, message_id)
                    SELECT e.id, m.id FROM webhook_endpoints e JOIN webhook_messages m ON m.partner_id = e.partner_id
                    WHERE e.id = $1 AND m.created_at >= $2
                        AND (m.event_type = ANY (e.event_types) OR EXISTS (
                            SELECT 1 FROM webhook_deliveries x WHERE x.endpoint_id = e.id AND x.message_id = m.id))
                    ON CONFLICT (endpoint_id, message_id) DO UPDATE
                        SET status = 'pending', attempts = 0, due_at = now(), lease_until = NULL
                        WHERE webhook_deliveries.status <> 'delivered'
                    RETURNING 1)
                SELECT count(*)::int AS n FROM replayed
                """, id, since)?.decode("n", as: Int.self) ?? 0
        default:
            throw ServiceError(
                .validationFailed, "Give either messageId or since.",
                fieldErrors: [FieldError(field: "messageId", code: "invalid"), FieldError(field: "since", code: "invalid")])
        }
        if queued > 0 { wakeup.wake() }
        return queued
    }

    /// The endpoint's attempts, newest first; only `messageId`'s when given.
    func attempts(_ id: UUID, partnerId: String, messageId: String?, page: PageCursor) async throws -> Page<WebhookAttempt> {
        try await database.withConnection { connection in
            _ = try load(id, partnerId: partnerId, on: connection)
            let rows = try connection.query(
                """
                SELECT a.id AS seq, a.message_id, m.event_type, a.attempted_at, a.response_status, a.error, a.duration_ms
                FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id
                WHERE a.endpoint_id = $1 AND a.id < $2 AND ($3::text IS NULL OR a.message_id = $3)
                ORDER BY a.id DESC LIMIT $4
                """, id, page.before, messageId, page.limit + 1)
            return try page.page(rows) { row in
                WebhookAttempt(
                    messageId: try row.decode("message_id"), eventType: try row.decode("event_type"),
                    attemptedAt: try row.decode("attempted_at"), responseStatus: try row.decode("response_status"),
                    error: try row.decode("error"), durationMs: try row.decode("duration_ms"))
            }
        }
    }

    /// The stored answer to an earlier POST with this Idempotency-Key and body, if there is one
    /// (422 `idempotency_key_reused` for another body), so a repeat is answered before anything is
    /// checked again.
    func earlierAnswer(partnerId: String, key: String?, request: Data) async throws -> (Int, Data)? {
        guard let key, (1...255).contains(key.utf8.count) else { return nil }
        let hash = SHA256.hash(request)
        let keys = self.keys
        return try await database.withConnection { connection in
            try Self.storedAnswer(partnerId: partnerId, key: key, hash: hash, keys: keys, on: connection, within: "created_at > now() - interval '1 day'")
        }
    }

    /// The answer stored for this partner's key (`within`: a further condition on its row), nil
    /// when none is; 422 `idempotency_key_reused` when it answered another request.
    private static func storedAnswer(
        partnerId: String, key: String, hash: Data, keys: KeyRing, on connection: Connection, within condition: String = "true"
    ) throws -> (Int, Data)? {
        guard
            let earlier = try connection.queryOne(
                """
                SELECT request_hash, status, response FROM partner_requests
                WHERE partner_id = $1 AND idempotency_key = $2 AND status IS NOT NULL AND \(condition)
                """, partnerId, key),
            let status: Int = try earlier.decode("status"), let sealed: Data = try earlier.decode("response")
        else { return nil }
        guard try earlier.decode("request_hash", as: Data.self) == hash else {
            throw ServiceError(.idempotencyKeyReused, "This Idempotency-Key was used with a different request.")
        }
        return (status, try keys.open(sealed, associatedData: Data("\(partnerId)\n\(key)".utf8)))
    }

    /// Runs a partner's POST once per Idempotency-Key: the first answer (status and body, sealed)
    /// answers any repeat with the same body for a day; the key with another body is 422
    /// `idempotency_key_reused`. A repeat arriving at once waits for the first one's commit.
    func once(
        partnerId: String, key: String?, request: Data, _ body: @escaping @Sendable (Connection) throws -> (Int, Data)
    ) async throws -> (Int, Data) {
        guard let key, (1...255).contains(key.utf8.count) else {
            throw ServiceError(.badRequest, "Every POST needs an Idempotency-Key header of 1 to 255 characters.")
        }
        let hash = SHA256.hash(request)
        let keys = self.keys
        let bound = Data("\(partnerId)\n\(key)".utf8)
        return try await database.transaction { connection in
            let taken = try connection.queryOne(
                """
                INSERT INTO partner_requests (partner_id, idempotency_key, request_hash) VALUES ($1, $2, $3)
                ON CONFLICT (partner_id, idempotency_key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = NULL,
                    response = NULL, created_at = now()
                WHERE partner_requests.created_at <= now() - interval '1 day'
                RETURNING 1 AS taken
                """, partnerId, key, hash)
            guard taken != nil else {
                guard let earlier = try Self.storedAnswer(partnerId: partnerId, key: key, hash: hash, keys: keys, on: connection) else {
                    throw ServiceError(.internalError, "the first request with this Idempotency-Key left no answer")
                }
                return earlier
            }
            let (status, response) = try body(connection)
            try connection.execute(
                "UPDATE partner_requests SET status = $3, response = $4 WHERE partner_id = $1 AND idempotency_key = $2", partnerId, key,
                status, try keys.seal(response, associatedData: bound))
            return (status, response)
        }
    }

    /// The endpoint, if it is this partner's (404 otherwise).
    func load(_ id: UUID, partnerId: String, on connection: Connection) throws -> WebhookEndpoint {
        guard let row = try connection.queryOne("\(Self.select) WHERE id = $1 AND partner_id = $2", id, partnerId) else {
            throw Self.notFound
        }
        return try Self.endpoint(row)
    }

    /// A secret sealed to its endpoint, so it opens nowhere else.
    func seal(_ secret: String, endpoint: UUID) throws -> Data {
        try keys.seal(Data(secret.utf8), associatedData: Data(endpoint.uuidString.utf8))
    }

    func open(_ sealed: Data, endpoint: UUID) throws -> String {
        String(decoding: try keys.open(sealed, associatedData: Data(endpoint.uuidString.utf8)), as: UTF8.self)
    }

    static let notFound = ServiceError(.notFound, "This partner has no webhook endpoint with this id.")

    private static let select = """
        SELECT id, url, description, event_types, enabled, disabled_reason, failing_since, created_at FROM webhook_endpoints
        """

    private static func endpoint(_ row: Row) throws -> WebhookEndpoint {
        WebhookEndpoint(
            id: try row.decode("id"), url: try row.decode("url"), description: try row.decode("description"),
            eventTypes: try row.decode("event_types"), enabled: try row.decode("enabled"), disabledReason: try row.decode("disabled_reason"),
            failingSince: try row.decode("failing_since"), createdAt: try row.decode("created_at"))
    }
}
