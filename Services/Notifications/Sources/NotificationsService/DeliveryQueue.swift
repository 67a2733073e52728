import Foundation
import Logging
import Metrics
import Models
import Store

/// The due deliveries of one channel, as its sender works through them: leased a batch at a time
/// (rows locked with `SKIP LOCKED`, so several instances share the work and none sends a row
/// another holds), and each outcome recorded: sent; tried again later with a doubling wait until
/// `maxAttempts`; failed for good; cancelled (no longer wanted); bounced (failed, and the
/// address remembered as undeliverable).
struct DeliveryQueue: Sendable {
    let database: Database
    let settings: NotificationsSettings
    let logger: Logger
    let channel: Notifications.Channel

    struct Claimed: Sendable {
        let id: UUID
        /// Whom it goes to: a person's account, or a partner's contact (email only).
        let accountId: UUID?
        let partnerId: String?
        let kind: String
        let params: [String: String]
        let attempts: Int
        let campaignId: UUID?
    }

    enum Result: Sendable {
        case sent(messageID: String)
        case retry(String)
        case failed(String)
        case bounced(String, addressHash: String)
        case cancelled(String)
    }

    /// Leases and sends batches of `batch` until a short one comes back, then records the oldest
    /// due delivery's age; how many `send` settled.
    func drain(batch: Int, _ send: ([Claimed]) async throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let claimed = try await lease(limit: batch)
            guard !claimed.isEmpty else { break }
            total += try await send(claimed)
            if claimed.count < batch { break }
        }
        try await recordOldestDue()
        return total
    }

    /// Leases up to `limit` due deliveries, oldest first, counting an attempt on each.
    func lease(limit: Int) async throws -> [Claimed] {
        let rows = try await database.withConnection { connection in
            try connection.query(
                """
                UPDATE deliveries SET lease_until = now() + make_interval(secs => $2), attempts = attempts + 1
                WHERE id IN (
                    SELECT id FROM deliveries
                    WHERE channel = $3 AND status = 'due' AND due_at <= now() AND (lease_until IS NULL OR lease_until < now())
                    ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING id, account_id, partner_id, kind, params, attempts, campaign_id
                """, limit, settings.leaseSeconds, channel.rawValue)
        }
        return try rows.map { row in
            Claimed(
                id: try row.decode("id"), accountId: try row.decode("account_id"), partnerId: try row.decode("partner_id"),
                kind: try row.decode("kind"),
                params: (try? JSONDecoder().decode([String: String].self, from: Data(try row.decode("params", as: String.self).utf8))) ?? [:],
                attempts: try row.decode("attempts"), campaignId: try row.decode("campaign_id"))
        }
    }

    /// Writes each delivery's outcome (and `messageID`s); how many are settled for good.
    func record(_ results: [UUID: Result], claimed: [Claimed]) async throws -> Int {
        let settings = self.settings
        let attempts = Dictionary(claimed.map { ($0.id, ($0.attempts, $0.accountId)) }, uniquingKeysWith: { first, _ in first })
        let outcomes = try await database.transaction { connection -> [String] in
            var outcomes: [String] = []
            for (id, result) in results {
                let (tries, account) = attempts[id] ?? (settings.maxAttempts, nil)
                switch result {
                case .sent(let messageID):
                    try connection.execute(
                        "UPDATE deliveries SET status = 'sent', sent_at = now(), lease_until = NULL, last_error = NULL, message_id = $2 WHERE id = $1",
                        id, messageID)
                    outcomes.append("sent")
                case .retry(let reason) where tries < settings.maxAttempts:
                    let wait = min(3600, settings.retrySeconds << min(tries - 1, 20))
                    try connection.execute(
                        """
                        UPDATE deliveries SET due_at = now() + make_interval(secs => $2), lease_until = NULL, last_error = $3 WHERE id = $1
                        """, id, wait, String(reason.prefix(500)))
                    outcomes.append("retry")
                case .retry(let reason), .failed(let reason):
                    try connection.execute(
                        "UPDATE deliveries SET status = 'failed', lease_until = NULL, last_error = $2 WHERE id = $1", id, String(reason.prefix(500)))
                    outcomes.append("failed")
                case .cancelled(let reason):
                    try connection.execute(
                        "UPDATE deliveries SET status = 'cancelled', lease_until = NULL, last_error = $2 WHERE id = $1", id, reason)
                    outcomes.append("cancelled")
                case .bounced(let reason, let hash):
                    try connection.execute(
                        "UPDATE deliveries SET status = 'failed', lease_until = NULL, last_error = $2 WHERE id = $1", id, String(reason.prefix(500)))
                    try connection.execute(
                        "INSERT INTO undeliverable_addresses (address_hash, account_id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", hash,
                        account, String(reason.prefix(500)))
                    outcomes.append("bounced")
                }
            }
            return outcomes
        }
        for outcome in outcomes {
            Counter(label: "notifications_deliveries_total", dimensions: [("channel", channel.rawValue), ("outcome", outcome)]).increment()
        }
        let retried = outcomes.filter { $0 == "retry" }.count
        if retried > 0 {
            logger.warning("deliveries wait for another try", metadata: ["notifications.channel": "\(channel.rawValue)", "notifications.deliveries": "\(retried)"])
        }
        return outcomes.count - retried
    }

    /// `notifications_oldest_due_delivery_seconds`: how long the oldest due delivery has waited.
    /// (Every channel's: whichever sender runs keeps it current.)
    func recordOldestDue() async throws {
        let age = try await database.withConnection { connection in
            try connection.queryOne(
                "SELECT coalesce(extract(epoch FROM now() - min(due_at)), 0)::float8 AS age FROM deliveries WHERE status = 'due' AND due_at <= now()"
            )?.decode("age", as: Double.self) ?? 0
        }
        Gauge(label: "notifications_oldest_due_delivery_seconds").record(age)
    }
}
