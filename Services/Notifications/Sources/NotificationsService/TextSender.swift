import Bus
import Foundation
import Logging
import Models
import Mustache
import ServiceKit
import Store

/// The texts the platform sends, each rendered from `Templates/<kind>.sms.mustache`: plain text
/// that must fit two segments (a longer one is a template fault, failed rather than sent split).
struct TextTemplates: Sendable {
    static let kinds = [Notifications.Kind.chatRequest.name]
    static let maxSegments = 2

    private let library: MustacheLibrary

    /// Loads the templates shipped with the service; a missing or broken one is a packaging fault.
    init() {
        guard let folder = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            preconditionFailure("the notifications service's Templates folder is missing from its bundle")
        }
        var library = MustacheLibrary()
        for kind in Self.kinds {
            let file = folder.appendingPathComponent("\(kind).sms.mustache")
            do {
                library.register(try MustacheTemplate(string: try String(contentsOf: file, encoding: .utf8)), named: kind)
            } catch {
                preconditionFailure("the template \(file.lastPathComponent) cannot be read: \(error)")
            }
        }
        self.library = library
    }

    /// The text of `kind` for `values`; nil for a kind without a template or a text past two segments.
    func render(_ kind: String, _ values: [String: Any]) -> String? {
        guard let text = library.render(values, withTemplate: kind).map({ String(EmailTemplates.trimmed($0)) }),
            !text.isEmpty, SMS.segments(of: text) <= Self.maxSegments
        else { return nil }
        return text
    }
}

/// Works through due text deliveries: leases a batch, asks accounts for each person's textable
/// number (verified, and not one that texted STOP), and sends each through `sms.send`; a
/// marketing text only while the person's consent to marketing texts holds, ending with how to stop. A chat
/// request is texted only while it is still open and only to an advisor with no stream
/// connection anywhere (the broker's `mmi.stream`): one who is connected sees it in the app.
/// A number the provider refuses fails for good; the provider failing is tried again later.
struct TextSender: Sendable {
    let database: Database
    let bus: BusClient
    let settings: NotificationsSettings
    let templates: TextTemplates
    let logger: Logger
    var queue: DeliveryQueue { DeliveryQueue(database: database, settings: settings, logger: logger, channel: .sms) }

    /// Texts leased at once: each may take up to `SMS.Send.timeout` (and a broker question), so a
    /// batch is done well within the lease and no other instance can take its rows meanwhile.
    static let batch = 5

    /// Sends until no text is due; how many it settled.
    func sendDue() async throws -> Int {
        try await queue.drain(batch: Self.batch) { try await send($0) }
    }

    /// Sends each text and records it at once (the provider's id is on the row before its report
    /// can arrive, as near as can be); how many it settled.
    private func send(_ claimed: [DeliveryQueue.Claimed]) async throws -> Int {
        let contacts = try await bus.call(Accounts.Contacts.self, .init(accountIds: Array(Set(claimed.compactMap(\.accountId)))), as: .system).contacts
        let byAccount = Dictionary(contacts.map { ($0.accountId, $0) }, uniquingKeysWith: { first, _ in first })
        let campaignIds = Array(Set(claimed.compactMap(\.campaignId)))
        let campaigns = try await database.withConnection { connection in
            Dictionary(
                uniqueKeysWithValues: try connection.query("SELECT id, text FROM campaigns WHERE id = ANY($1::uuid[])", campaignIds).map {
                    (try $0.decode("id", as: UUID.self), try $0.decode("text", as: String.self))
                })
        }
        var settled = 0
        for delivery in claimed {
            let result = await send(delivery, to: delivery.accountId.flatMap { byAccount[$0] }, campaignText: delivery.campaignId.flatMap { campaigns[$0] })
            settled += try await queue.record([delivery.id: result], claimed: [delivery])
        }
        return settled
    }

    private func send(_ delivery: DeliveryQueue.Claimed, to contact: Accounts.Contacts.Contact?, campaignText: String?) async -> DeliveryQueue.Result {
        guard let contact else { return .failed("the account is gone") }
        if let expires = delivery.params["expiresAt"].flatMap(Double.init), Date(timeIntervalSince1970: expires) <= Date() {
            return .cancelled("no longer wanted: it has expired")
        }
        if delivery.kind == Notifications.Kind.chatRequest.name {
            // Unknown (the broker did not answer) counts as not connected: better one text too many.
            if let accountId = delivery.accountId, (try? await bus.hasStreamConnection(accountId)) == true {
                return .cancelled("connected to the stream: seen in the app")
            }
        }
        guard let phone = contact.phone else { return .cancelled("no verified number that takes texts") }
        let text: String
        if delivery.campaignId != nil {
            // Marketing goes only to whom it may at the moment it leaves.
            guard contact.marketingConsents.contains("marketingSms") else { return .cancelled("the marketing consent for texts is off") }
            guard let campaignText else { return .failed("the campaign is missing") }
            text = campaignText + Notifications.CreateCampaign.textOptOut
        } else {
            var values: [String: Any] = ["displayName": contact.displayName, "publicURL": settings.publicURL]
            for (key, value) in delivery.params { values[key] = value }
            guard let rendered = templates.render(delivery.kind, values) else { return .failed("no text, or a text too long, for \(delivery.kind)") }
            text = rendered
        }
        do {
            let sent = try await bus.call(SMS.Send.self, .init(to: phone, body: text), as: .system)
            return .sent(messageID: sent.providerId)
        } catch let error as ServiceError where error.code == .smsRefused {
            return .failed("the provider refuses the number")
        } catch {
            return .retry("the provider could not be reached: \(error)")
        }
    }
}
