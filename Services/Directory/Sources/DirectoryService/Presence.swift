import Foundation
import Models
import ServiceKit
import Store

/// Presence that never lies: every change of an advisor's status is announced, and an online
/// advisor whose heartbeats stop is taken offline after the grace window.
enum Presence {
    /// Announces that `advisorId` is now `status`, in the transaction that changed it; coming
    /// online also tells each member who asked to hear of it, at most once an hour per advisor.
    static func announce(_ advisorId: UUID, is status: Directory.Status, on connection: Connection) throws {
        let now = Date()
        try Outbox.append(Directory.AdvisorStatusChanged(advisorId: advisorId, status: status, at: now), on: connection)
        guard status == .online else { return }
        let members = try connection.query(
            """
            UPDATE favorites SET notified_at = now()
            WHERE advisor_id = $1 AND notify_when_online AND (notified_at IS NULL OR notified_at <= now() - interval '1 hour')
            RETURNING member_id
            """, advisorId)
        // One statement for all of them: a popular advisor may have thousands to tell.
        try Outbox.append(
            try members.map { Directory.FavoriteOnline(memberId: try $0.decode("member_id"), advisorId: advisorId, at: now) },
            on: connection)
    }

    /// Takes offline, and announces, the online advisors whose last heartbeat is older than the
    /// grace window; every instance runs it, and `SKIP LOCKED` lets them share the work.
    static func expiry(graceSeconds: Int, every interval: Duration = .seconds(1)) -> MaintenanceTask {
        MaintenanceTask(name: "directory.expire-presence", interval: interval) { database in
            try await database.transaction { connection in
                let expired = try connection.query(
                    """
                    UPDATE advisors SET status = 'offline', status_changed_at = now()
                    WHERE account_id IN (
                        SELECT account_id FROM advisors
                        WHERE status = 'online' AND heartbeat_at < now() - make_interval(secs => $1::int)
                        LIMIT \(MaintenanceTask.batch) FOR UPDATE SKIP LOCKED)
                    RETURNING account_id
                    """, graceSeconds)
                for row in expired {
                    try announce(try row.decode("account_id"), is: .offline, on: connection)
                }
                return expired.count
            }
        }
    }
}
