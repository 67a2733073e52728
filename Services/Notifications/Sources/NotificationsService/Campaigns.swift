import Bus
import Foundation
import Logging
import Models
import ServiceKit
import Store

/// Marketing campaigns: an admin composes one; it is planned a page of consenting people at a
/// time (accounts' record of consent says who), each person's message sent only if their consent
/// still holds when it leaves (checked again by the sender); anyone holding an unsubscribe link
/// withdraws the consent it names, through accounts, at once. A new privacy policy goes out the
/// same way to every live account, whatever their consents, in the app and by email.
struct Campaigns: Sendable {
    let database: Database
    let bus: BusClient
    let settings: NotificationsSettings
    let logger: Logger

    static let subjectLength = 1...150
    static let textLength = 1...20_000
    /// People planned per page of the audience.
    static let page = 1000

    func create(_ request: Notifications.CreateCampaign.Request, caller: Caller) async throws -> Notifications.Campaign {
        guard let admin = caller.accountId else { throw ServiceError(.unauthenticated, "sign in first") }
        guard caller.has(.admin) else { throw ServiceError(.forbidden, "admins send campaigns") }
        var rules = FieldRules()
        rules.words(request.subject, field: "subject", range: Self.subjectLength)
        rules.words(request.text, field: "text", range: Self.textLength)
        let channel = request.channel ?? Notifications.Channel.email.rawValue
        let texted = channel == Notifications.Channel.sms.rawValue
        if !texted, channel != Notifications.Channel.email.rawValue { rules.fail("channel", "invalid") }
        if texted, SMS.segments(of: request.text + Notifications.CreateCampaign.textOptOut) > TextTemplates.maxSegments {
            rules.fail("text", "too_long")
        }
        try rules.check()
        guard texted || (settings.relay != nil && settings.links != nil) else {
            throw ServiceError(.unavailable, "email is not configured on this platform (SMTP_URL)")
        }
        let id = UUID()
        try await database.withConnection { connection in
            try connection.execute(
                "INSERT INTO campaigns (id, channel, subject, text, created_by) VALUES ($1, $2, $3, $4, $5)", id, channel,
                request.subject, request.text, admin)
        }
        logger.info("campaign created", metadata: ["campaign.id": "\(id)"])
        return try await campaign(id)
    }

    func get(_ request: Notifications.GetCampaign.Request, caller: Caller) async throws -> Notifications.Campaign {
        guard caller.accountId != nil else { throw ServiceError(.unauthenticated, "sign in first") }
        guard caller.has(.admin) else { throw ServiceError(.forbidden, "admins see campaigns") }
        return try await campaign(request.campaignId)
    }

    private func campaign(_ id: UUID) async throws -> Notifications.Campaign {
        let row = try await database.withConnection { connection in
            try connection.queryOne(
                """
                SELECT c.id, c.channel, c.subject, c.text, c.status, c.created_at,
                    count(d.id)::int AS planned,
                    count(d.id) FILTER (WHERE d.status = 'sent')::int AS sent,
                    count(d.id) FILTER (WHERE d.status = 'cancelled')::int AS cancelled,
                    count(d.id) FILTER (WHERE d.status = 'failed')::int AS failed
                FROM campaigns c LEFT JOIN deliveries d ON d.campaign_id = c.id WHERE c.id = $1 GROUP BY c.id
                """, id)
        }
        guard let row else { throw ServiceError(.notFound, "no such campaign") }
        return Notifications.Campaign(
            id: try row.decode("id"), channel: try row.decode("channel"), subject: try row.decode("subject"), text: try row.decode("text"),
            status: try row.decode("status"), createdAt: try row.decode("created_at"), planned: try row.decode("planned"),
            sent: try row.decode("sent"), cancelled: try row.decode("cancelled"), failed: try row.decode("failed"))
    }

    /// A new privacy policy: told to every live account, in the app and by email, through a
    /// campaign of its own (one per version, however often the event comes).
    static func policyPublished(_ event: Accounts.PolicyPublished, on connection: Connection) throws {
        let day = ISO8601DateFormatter.string(from: event.effectiveDate, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        try connection.execute(
            """
            INSERT INTO campaigns (id, channel, subject, text, purpose, policy_version) VALUES ($1, 'email', $2, $3, 'policy', $4)
            ON CONFLICT (policy_version) DO NOTHING
            """, UUID(), "Our privacy policy is changing",
            """
            We have published a new version of our privacy policy (\(event.version)), in force from \(day).

            You can read it in your privacy center. We will ask you to accept it the next time you use Advisor Platform.
            """, String(event.version.prefix(40)))
    }

    /// Plans the next page of every campaign still planning; how many deliveries and notices it added.
    func plan() async throws -> Int {
        let planning = try await database.withConnection { connection in
            try connection.query(
                "SELECT id, planned_until, purpose, channel FROM campaigns WHERE status = 'planning' ORDER BY created_at LIMIT 10")
        }
        var added = 0
        for row in planning {
            let id: UUID = try row.decode("id")
            let after: UUID? = try row.decode("planned_until")
            let policy = try row.decode("purpose", as: String.self) == "policy"
            let texted = try row.decode("channel", as: String.self) == Notifications.Channel.sms.rawValue
            let consent = policy ? Accounts.MarketingAudience.everyone : texted ? "marketingSms" : "marketingEmail"
            let audience = try await bus.call(
                Accounts.MarketingAudience.self, .init(consent: consent, after: after, limit: Self.page), as: .system
            ).accountIds
            // Texts go through integration; email only where a relay is configured.
            let deliver = texted || settings.relay != nil
            added += try await database.transaction { connection in
                // Another instance may have planned this page meanwhile: only the one that moves
                // `planned_until` from where both read it adds the deliveries.
                let moved = try connection.execute(
                    """
                    UPDATE campaigns SET planned_until = coalesce($3, planned_until), status = CASE WHEN $4 THEN 'sending' ELSE status END
                    WHERE id = $1 AND status = 'planning' AND planned_until IS NOT DISTINCT FROM $2
                    """, id, after, audience.last, audience.count < Self.page)
                guard moved == 1, !audience.isEmpty else { return 0 }
                var planned = 0
                if policy {
                    // In the app too, for whoever has not turned that off.
                    planned += try connection.execute(
                        """
                        INSERT INTO notices (id, account_id, kind, text, subject)
                        SELECT gen_random_uuid(), person, $2, $3, '{}' FROM unnest($1::uuid[]) AS person
                        WHERE NOT EXISTS (
                            SELECT 1 FROM channel_settings s
                            WHERE s.account_id = person AND s.kind = $2 AND s.channel = 'inApp' AND NOT s.enabled)
                        """, audience, Notifications.Kind.policyChanged.name,
                        "Our privacy policy is changing. Read the new version in your privacy center.")
                }
                guard deliver else { return planned }
                // Not urgent: each person's quiet hours hold theirs until they end.
                let now = Date()
                var due = [UUID: Date]()
                for quiet in try connection.query(
                    "SELECT account_id, starts, ends, time_zone FROM quiet_hours WHERE account_id = ANY($1::uuid[])", audience)
                {
                    if let window = QuietWindow(start: try quiet.decode("starts"), end: try quiet.decode("ends"), timeZone: try quiet.decode("time_zone")) {
                        due[try quiet.decode("account_id")] = window.release(now)
                    }
                }
                return planned + (try connection.execute(
                    """
                    INSERT INTO deliveries (id, account_id, kind, channel, campaign_id, due_at)
                    SELECT gen_random_uuid(), person, $3, $5, $1, due FROM unnest($2::uuid[], $4::timestamptz[]) AS p(person, due)
                    ON CONFLICT DO NOTHING
                    """, id, audience, policy ? Notifications.Kind.policyChanged.name : EmailTemplates.campaign.name,
                    audience.map { due[$0] ?? now }, texted ? "sms" : "email"))
            }
        }
        return added
    }

    /// Withdraws the consent an unsubscribe link names (`withdraw`), or checks the link only.
    func unsubscribe(_ request: Notifications.Unsubscribe.Request) async throws -> Notifications.Unsubscribe.Response {
        guard let link = settings.links?.read(request.token), Accounts.MarketingAudience.consents.contains(link.consent) else {
            throw ServiceError(.notFound, "this unsubscribe link is not valid (or has expired)")
        }
        let (account, consent) = link
        guard request.withdraw else { return .init(consent: consent, withdrawn: false) }
        do {
            _ = try await bus.call(
                Accounts.SetConsents.self,
                .init(
                    marketingEmail: consent == "marketingEmail" ? false : nil, marketingSms: consent == "marketingSms" ? false : nil,
                    source: .unsubscribeLink, accountId: account), as: .system)
        } catch let error as ServiceError where error.code == .notFound {
            // An erased account has no consents left to withdraw: the link did its work.
        }
        logger.info("unsubscribed by link", metadata: ["consent": "\(consent)"])
        return .init(consent: consent, withdrawn: true)
    }
}
