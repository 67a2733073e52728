public import Foundation
public import ServiceKit
import Bus
import Logging
import Models
import NIOSSL
import Store

/// The notifications service: its schema, its bus handlers and the events it applies.
public enum NotificationsService {
    /// How long a notice stays in an inbox, read or not.
    static let inboxDays = 180

    /// Everything the service runner needs to serve notifications with `settings`.
    public static func definition(settings: NotificationsSettings) -> WorkerServiceDefinition {
        let templates = EmailTemplates()
        return WorkerServiceDefinition(
            name: .notifications,
            migrations: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumes: { resources in NotificationsEvents.subscriptions(streams: resources.streams, settings: settings) },
            maintenance: { resources in
                var tasks = [
                    MaintenanceTask(name: "notifications.prune-inbox", interval: .seconds(3600)) { database in
                        try await MaintenanceTask.deleteInBatches(database) { connection in
                            try connection.execute(
                                """
                                DELETE FROM notices WHERE id IN (
                                    SELECT id FROM notices WHERE created_at < now() - make_interval(days => $1) LIMIT \(MaintenanceTask.batch))
                                """, inboxDays)
                        }
                    }
                ]
                let campaigns = Campaigns(database: resources.database, bus: resources.bus, settings: settings, logger: resources.logger)
                let texts = TextSender(
                    database: resources.database, bus: resources.bus, settings: settings, templates: TextTemplates(), logger: resources.logger)
                tasks.append(MaintenanceTask(name: "notifications.send-sms", interval: .seconds(1)) { _ in try await texts.sendDue() })
                tasks.append(MaintenanceTask(name: "notifications.plan-campaigns", interval: .seconds(1)) { _ in try await campaigns.plan() })
                if let relay = settings.relay {
                    var tls: NIOSSLContext?
                    do {
                        tls = try SMTPClient.tlsContext(caFile: settings.smtpCAFile)
                    } catch {
                        resources.logger.error("no STARTTLS: the TLS context could not be made", metadata: ["error": "\(error)"])
                    }
                    let sender = EmailSender(
                        database: resources.database, bus: resources.bus,
                        client: SMTPClient(
                            relay: relay, heloName: "notifications.advisor.test", timeout: .seconds(30), tls: tls, logger: resources.logger),
                        settings: settings, templates: templates, logger: resources.logger)
                    tasks.append(MaintenanceTask(name: "notifications.send-email", interval: .seconds(1)) { _ in try await sender.sendDue() })
                }
                return tasks
            },
            privacy: NotificationsPrivacy.hooks
        ) { worker, resources in
            let handlers = NotificationsHandlers(database: resources.database, logger: resources.logger)
            worker.handle(Notifications.Inbox.self) { try await handlers.inbox($0, caller: $1.caller) }
            worker.handle(Notifications.MarkRead.self) { try await handlers.markRead($0, caller: $1.caller) }
            worker.handle(Notifications.GetSettings.self) { _, context in try await handlers.settings(caller: context.caller) }
            worker.handle(Notifications.PutSettings.self) { try await handlers.replaceSettings($0, caller: $1.caller) }
            worker.handle(Notifications.PartnerNotice.self) { try await handlers.partnerNotice($0, caller: $1.caller) }
            let campaigns = Campaigns(database: resources.database, bus: resources.bus, settings: settings, logger: resources.logger)
            worker.handle(Notifications.CreateCampaign.self) { try await campaigns.create($0, caller: $1.caller) }
            worker.handle(Notifications.GetCampaign.self) { try await campaigns.get($0, caller: $1.caller) }
            worker.handle(Notifications.Unsubscribe.self) { request, _ in try await campaigns.unsubscribe(request) }
            let keywords = TextMessageKeywords(database: resources.database, bus: resources.bus, settings: settings, logger: resources.logger)
            worker.handle(SMS.Inbound.self) { try await keywords.inbound($0, caller: $1.caller) }
            worker.handle(SMS.Status.self) { try await keywords.status($0, caller: $1.caller) }
        }
    }
}
