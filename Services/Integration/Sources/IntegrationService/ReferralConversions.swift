import Bus
import Foundation
import Models
import ServiceKit
import Store

/// `referral.converted`: how many accounts registered with one of the partner's referral codes on
/// one UTC day, sent once that day is over and only when the report would show the figure (at
/// least `INTEGRATION_REPORT_MIN_GROUP` sign-ups). A message per sign-up, as it happens, would
/// tell the partner when each visitor registered, which its own click log turns into who
/// (docs/decisions.md); the day's suppressed figure is what the reports already give.
struct ReferralConversions: Sendable {
    let endpoints: WebhookEndpoints
    let database: Database
    let bus: BusClient
    let minGroupSize: Int
    let revenueSharePercent: Int

    static let eventType = "referral.converted"
    /// Days looked back, so a day missed while integration was down is still sent.
    static let daysBack = 3
    /// How long after midnight UTC a day counts as over (clocks of two hosts may differ a little).
    static let grace: TimeInterval = 600

    /// The message's data.
    struct Converted: Encodable, Sendable {
        var code: String
        var day: String
        var signups: Int
    }

    /// Sends the days that are over and not sent yet to each partner with an endpoint that takes
    /// them; how many messages it made.
    func sendDue() async throws -> Int {
        // Each partner that takes the messages, with each day that is over (UTC, by the database's
        // clock: the one sign-ups are dated by) and not sent to it yet: one statement a run.
        let due = try await database.withConnection { connection in
            try connection.query(
                """
                WITH days AS (
                    SELECT ((now() - make_interval(secs => $2)) AT TIME ZONE 'UTC')::date - g AS day FROM generate_series(1, $3) g)
                SELECT p.partner_id, to_char(d.day, 'YYYY-MM-DD') AS day
                FROM (SELECT DISTINCT partner_id FROM webhook_endpoints WHERE enabled AND $1 = ANY (event_types)) p CROSS JOIN days d
                WHERE NOT EXISTS (SELECT 1 FROM referral_webhook_days s WHERE s.partner_id = p.partner_id AND s.day = d.day)
                ORDER BY p.partner_id, d.day
                """, Self.eventType, Int(Self.grace), Self.daysBack
            ).map { (try $0.decode("partner_id", as: String.self), try $0.decode("day", as: String.self)) }
        }
        let now = Date()
        var made = 0
        for (partner, day) in due {
            let report = try await bus.call(
                Accounts.ReferralReport.self,
                .init(partnerId: partner, from: day, to: day, minGroupSize: minGroupSize, revenueSharePercent: revenueSharePercent),
                as: .system)
            let converted = report.items.compactMap { row in
                row.signups.flatMap { $0 > 0 ? Converted(code: row.code, day: row.day, signups: $0) : nil }
            }
            let endpoints = self.endpoints
            let sent = try await database.transaction { connection -> Int in
                // One instance sends a day: the one whose marker goes in.
                guard
                    try connection.execute(
                        "INSERT INTO referral_webhook_days (partner_id, day) VALUES ($1, $2::date) ON CONFLICT DO NOTHING", partner, day) == 1
                else { return 0 }
                for message in converted {
                    try endpoints.publish(Self.eventType, at: now, data: message, to: partner, on: connection)
                }
                return converted.count
            }
            made += sent
        }
        return made
    }
}
