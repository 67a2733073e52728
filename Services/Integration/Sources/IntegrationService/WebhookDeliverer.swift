import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import Models
import NIOCore
import NIOHTTP1
import PlatformSecurity
import ServiceLifecycle
import Store

/// Tells an instance's deliverer that something may be due at once (wake-ups coalesce).
struct DeliveryWakeup: Sendable {
    let stream: AsyncStream<Void>
    let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func wake() {
        continuation.yield()
    }
}

/// Sends due webhook deliveries: leases a batch (rows locked with `SKIP LOCKED`, so instances
/// share the work), posts each, signed, to its endpoint, and records every attempt. A 2xx
/// delivers; 410 disables the endpoint; 429, 502 and 504 pause the endpoint (its `Retry-After`,
/// else the next wait of the schedule) and try again; anything else tries again on the schedule
/// until it is used up. An endpoint failing longer than `disableAfterSeconds` is disabled.
final class WebhookDeliverer: Service, Sendable {
    private let endpoints: WebhookEndpoints
    private let settings: WebhookSettings
    private let client: HTTPClient
    private let logger: Logger
    private let wakeup: DeliveryWakeup
    /// How long an idle deliverer waits for a wake-up before it looks again (other instances'
    /// messages, retries coming due).
    static let idlePoll = Duration.milliseconds(250)

    init(endpoints: WebhookEndpoints, logger: Logger) {
        self.endpoints = endpoints
        self.settings = endpoints.settings
        self.wakeup = endpoints.wakeup
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        // A redirect could lead to an address the policy refuses: the endpoint's answer stands.
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(Int64(min(settings.timeoutSeconds, 10))), read: .seconds(Int64(settings.timeoutSeconds)))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                // The poll is a wake-up too: retries coming due, other instances' messages.
                group.addTask { [wakeup] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.idlePoll)
                        wakeup.wake()
                    }
                }
                for await _ in wakeup.stream {
                    do {
                        _ = try await drain()
                    } catch {
                        logger.error("webhook deliveries could not be sent", metadata: ["error": "\(error)"])
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: { [wakeup] in
            wakeup.continuation.finish()
        }
        try await client.shutdown()
    }

    private struct Claimed: Sendable {
        let endpointId: UUID
        let messageId: String
        let attempts: Int
        let url: String
        let secrets: [String]
        let payload: String
    }

    private enum Outcome: Sendable {
        case delivered(status: Int)
        /// 410: the endpoint is gone.
        case gone
        /// 429, 502, 504: slow down, for this many seconds if the endpoint said.
        case slowDown(status: Int, retryAfter: Int?)
        case failed(status: Int?, error: String?)
    }

    /// Leases and sends batches until a short one comes back; how many attempts it made. Each
    /// attempt is recorded as soon as it ends, so one slow endpoint holds up no other's record.
    func drain() async throws -> Int {
        var total = 0
        while true {
            let claimed = try await lease(limit: settings.concurrency)
            guard !claimed.isEmpty else { break }
            await withTaskGroup(of: Void.self) { group in
                for delivery in claimed {
                    group.addTask {
                        let started = ContinuousClock.now
                        let outcome = await self.send(delivery)
                        let elapsed = started.duration(to: .now)
                        let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                        do {
                            try await self.record(delivery, outcome, milliseconds: milliseconds)
                        } catch {
                            self.logger.error(
                                "a webhook attempt could not be recorded", metadata: ["webhook.endpoint": "\(delivery.endpointId)", "error": "\(error)"])
                        }
                    }
                }
            }
            total += claimed.count
            if claimed.count < settings.concurrency { break }
        }
        return total
    }

    private func lease(limit: Int) async throws -> [Claimed] {
        let endpoints = self.endpoints
        let leaseSeconds = settings.timeoutSeconds * 2 + 5
        let rows = try await endpoints.database.withConnection { connection in
            try connection.query(
                """
                UPDATE webhook_deliveries d SET lease_until = now() + make_interval(secs => $2), attempts = d.attempts + 1
                FROM webhook_endpoints e, webhook_messages m
                WHERE (d.endpoint_id, d.message_id) IN (
                    SELECT q.endpoint_id, q.message_id FROM webhook_deliveries q JOIN webhook_endpoints qe ON qe.id = q.endpoint_id
                    WHERE q.status = 'pending' AND q.due_at <= now() AND (q.lease_until IS NULL OR q.lease_until < now())
                        AND qe.enabled AND (qe.paused_until IS NULL OR qe.paused_until <= now())
                    ORDER BY q.due_at LIMIT $1 FOR UPDATE OF q SKIP LOCKED)
                    AND e.id = d.endpoint_id AND m.id = d.message_id
                RETURNING d.endpoint_id, d.message_id, d.attempts, e.url, e.secret,
                    CASE WHEN e.previous_until > now() THEN e.previous_secret END AS previous_secret, m.payload
                """, limit, leaseSeconds)
        }
        return try rows.map { row in
            let endpointId: UUID = try row.decode("endpoint_id")
            var secrets = [try endpoints.open(try row.decode("secret"), endpoint: endpointId)]
            if let previous: Data = try row.decode("previous_secret") { secrets.append(try endpoints.open(previous, endpoint: endpointId)) }
            return Claimed(
                endpointId: endpointId, messageId: try row.decode("message_id"), attempts: try row.decode("attempts"),
                url: try row.decode("url"), secrets: secrets, payload: try row.decode("payload"))
        }
    }

    private func send(_ delivery: Claimed) async -> Outcome {
        do {
            try await WebhookAddressPolicy.check(delivery.url, allowPrivate: settings.allowPrivateAddresses)
        } catch {
            return .failed(status: nil, error: error.rawValue)
        }
        let body = Data(delivery.payload.utf8)
        let timestamp = Int(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "advisor-platform-webhooks/1")
        request.headers.add(name: "webhook-id", value: delivery.messageId)
        request.headers.add(name: "webhook-timestamp", value: "\(timestamp)")
        request.headers.add(
            name: "webhook-signature",
            value: StandardWebhookSignature.signature(id: delivery.messageId, timestamp: timestamp, body: body, secrets: delivery.secrets))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(settings.timeoutSeconds)))
            // The answer's body is not kept (it is the partner's), only read off the connection.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let status = Int(response.status.code)
            switch status {
            case 200..<300: return .delivered(status: status)
            case 410: return .gone
            case 429, 502, 504:
                return .slowDown(status: status, retryAfter: response.headers.first(name: "Retry-After").flatMap { Int($0) })
            default: return .failed(status: status, error: nil)
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return .failed(status: nil, error: "timeout")
        } catch {
            return .failed(status: nil, error: "connection_failed")
        }
    }

    /// Writes one attempt and what follows from it, in one transaction, unless the delivery has
    /// moved on meanwhile (deleted with its endpoint, replayed, or leased again after its lease
    /// ran out): only the lease that made the attempt may record it.
    private func record(_ delivery: Claimed, _ outcome: Outcome, milliseconds: Int) async throws {
        let settings = self.settings
        if case .delivered(let status) = outcome {
            // The common case in one statement (one round trip, no explicit transaction).
            _ = try await endpoints.database.withConnection { connection in
                try connection.execute(
                    """
                    WITH delivered AS (
                        UPDATE webhook_deliveries SET status = 'delivered', lease_until = NULL
                        WHERE endpoint_id = $1 AND message_id = $2 AND status = 'pending' AND attempts = $3
                        RETURNING endpoint_id, message_id),
                    attempt AS (
                        INSERT INTO webhook_attempts (endpoint_id, message_id, response_status, duration_ms)
                        SELECT endpoint_id, message_id, $4, $5 FROM delivered)
                    UPDATE webhook_endpoints SET failing_since = NULL
                    WHERE id = $1 AND failing_since IS NOT NULL AND EXISTS (SELECT 1 FROM delivered)
                    """, delivery.endpointId, delivery.messageId, delivery.attempts, status, milliseconds)
            }
            Counter(label: "integration_webhook_attempts_total", dimensions: [("outcome", "delivered")]).increment()
            return
        }
        let disabled = try await endpoints.database.transaction { connection -> Bool in
            guard
                try connection.queryOne(
                    """
                    SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1 AND message_id = $2 AND status = 'pending' AND attempts = $3
                    FOR UPDATE
                    """, delivery.endpointId, delivery.messageId, delivery.attempts) != nil
            else { return false }
            let status: Int?
            let error: String?
            var disabled = false
            switch outcome {
            case .delivered:
                return false  // recorded above
            case .gone:
                (status, error) = (410, nil)
                try Self.fail(delivery, on: connection)
                disabled = try connection.queryOne(
                    "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'gone' WHERE id = $1 AND enabled RETURNING id",
                    delivery.endpointId) != nil
            case .slowDown(let code, let retryAfter):
                (status, error) = (code, nil)
                let wait = try Self.retry(delivery, settings: settings, on: connection)
                try connection.execute(
                    "UPDATE webhook_endpoints SET paused_until = now() + make_interval(secs => $2) WHERE id = $1", delivery.endpointId,
                    min(3600, max(1, retryAfter ?? wait ?? 60)))
            case .failed(let code, let reason):
                (status, error) = (code, reason)
                _ = try Self.retry(delivery, settings: settings, on: connection)
            }
            try connection.execute(
                """
                INSERT INTO webhook_attempts (endpoint_id, message_id, response_status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)
                """, delivery.endpointId, delivery.messageId, status, error, milliseconds)
            // Failing since the first failure after a success; disabled once that is too long ago.
            let off = try connection.queryOne(
                """
                UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()),
                    enabled = enabled AND coalesce(failing_since, now()) > now() - make_interval(secs => $2),
                    disabled_reason = CASE WHEN enabled AND coalesce(failing_since, now()) <= now() - make_interval(secs => $2)
                        THEN 'failing' ELSE disabled_reason END
                WHERE id = $1 AND enabled RETURNING enabled
                """, delivery.endpointId, settings.disableAfterSeconds)
            let nowDisabled = try disabled || off?.decode("enabled", as: Bool.self) == false
            if nowDisabled {
                // The partner's contact is told (WebhookEndpoints.tellOwners), once per disabling.
                try connection.execute(
                    "UPDATE webhook_endpoints SET owner_notice_key = 'webhook-disabled:' || id || ':' || floor(extract(epoch FROM now())) WHERE id = $1",
                    delivery.endpointId)
            }
            return nowDisabled
        }
        let name =
            switch outcome {
            case .delivered: "delivered"
            case .gone: "gone"
            case .slowDown: "slow_down"
            case .failed: "failed"
            }
        Counter(label: "integration_webhook_attempts_total", dimensions: [("outcome", name)]).increment()
        if disabled {
            logger.warning("webhook endpoint disabled", metadata: ["webhook.endpoint": "\(delivery.endpointId)"])
        }
    }

    /// Schedules the next attempt, or fails the delivery when the schedule is used up; the wait.
    private static func retry(_ delivery: Claimed, settings: WebhookSettings, on connection: Connection) throws -> Int? {
        guard let wait = settings.wait(after: delivery.attempts) else {
            try fail(delivery, on: connection)
            return nil
        }
        try connection.execute(
            """
            UPDATE webhook_deliveries SET due_at = now() + make_interval(secs => $3), lease_until = NULL
            WHERE endpoint_id = $1 AND message_id = $2
            """, delivery.endpointId, delivery.messageId, wait)
        return wait
    }

    private static func fail(_ delivery: Claimed, on connection: Connection) throws {
        try connection.execute(
            "UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL WHERE endpoint_id = $1 AND message_id = $2",
            delivery.endpointId, delivery.messageId)
    }
}
