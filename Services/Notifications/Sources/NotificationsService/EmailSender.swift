import Bus
import Foundation
import Logging
import Metrics
import Models
import Mustache
import PlatformSecurity
import ServiceKit
import Store

/// The emails the platform sends, each rendered from its Mustache templates
/// (`Templates/<name>.text.mustache` and `.html.mustache`) with the person's name and the
/// delivery's parameters.
struct EmailTemplates: Sendable {
    struct Kind: Sendable {
        let name: String
        /// nil: the subject is the delivery's own (a campaign's, a notice's).
        let subject: String?
        /// The templates it is written with: its own, or the plain notice's.
        var template: String { Self.plainNotices.contains(name) ? "notice" : name }

        /// Kinds told in a subject and a few paragraphs the event gives (`notice.*.mustache`).
        static let plainNotices: Set<String> = [
            Notifications.Kind.topUpReceipt.name, Notifications.Kind.refundDecided.name, Notifications.Kind.payoutSent.name,
            Notifications.Kind.lowBalance.name, Notifications.Kind.reviewReceived.name, Notifications.Kind.policyChanged.name,
        ]
    }

    static let welcome = Kind(name: "welcome", subject: "Welcome to Advisor Platform")
    static let campaign = Kind(name: "campaign", subject: nil)
    static let favoriteOnline = Kind(name: "favorite_online", subject: "Advisors you follow are online")
    static let securityNotice = Kind(name: "security_notice", subject: "Security notice about your Advisor Platform account")
    /// To a partner's contact.
    static let webhookEndpointDisabled = Kind(
        name: Notifications.PartnerNotice.webhookEndpointDisabled, subject: "Advisor Platform disabled one of your webhook endpoints")
    static let kinds = Dictionary(
        uniqueKeysWithValues: ([welcome, campaign, favoriteOnline, securityNotice, webhookEndpointDisabled]
            + Kind.plainNotices.map { Kind(name: $0, subject: nil) })
            .map { ($0.name, $0) })

    private let library: MustacheLibrary

    /// Loads the templates shipped with the service; a missing or broken one is a packaging fault.
    init() {
        guard let folder = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            preconditionFailure("the notifications service's Templates folder is missing from its bundle")
        }
        var library = MustacheLibrary()
        for kind in Set(Self.kinds.values.map(\.template)) {
            for part in ["text", "html"] {
                let file = folder.appendingPathComponent("\(kind).\(part).mustache")
                do {
                    library.register(try MustacheTemplate(string: try String(contentsOf: file, encoding: .utf8)), named: "\(kind).\(part)")
                } catch {
                    preconditionFailure("the template \(file.lastPathComponent) cannot be read: \(error)")
                }
            }
        }
        self.library = library
    }

    /// The subject, text and HTML of `kind` for `values` (a kind without a subject of its own takes
    /// `values["subject"]`); nil for a kind without templates.
    func render(_ kind: String, _ values: [String: Any]) -> (subject: String, text: String, html: String)? {
        guard let found = Self.kinds[kind], let subject = found.subject ?? values["subject"] as? String,
            let text = library.render(values, withTemplate: "\(found.template).text"),
            let html = library.render(values, withTemplate: "\(found.template).html")
        else { return nil }
        return (subject, Self.trimmed(text) + "\n", html)
    }

    /// `text` without the spaces and line ends around it (ASCII white space only: cheap).
    static func trimmed(_ text: String) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        let start = text.firstIndex { !isSpace($0) } ?? text.endIndex
        let end = text.lastIndex { !isSpace($0) }.map(text.index(after:)) ?? start
        return text[start..<max(start, end)]
    }
}

/// Works through due email deliveries: leases a batch (rows locked with `SKIP LOCKED`, so several
/// instances share the work), asks accounts where to reach the people, renders, sends the batch
/// over one SMTP connection, and records each outcome: sent; tried again later with a doubling
/// wait (a 4xx reply, the relay unreachable) until `maxAttempts`; failed for good (5xx), the
/// address marked undeliverable when the relay refused the recipient.
///
/// A crash between the relay's acceptance and the record sends that message again once the lease
/// runs out (docs/decisions.md); nothing else can send a delivery twice.
struct EmailSender: Sendable {
    let database: Database
    let bus: BusClient
    let client: SMTPClient
    let settings: NotificationsSettings
    let templates: EmailTemplates
    let logger: Logger
    var queue: DeliveryQueue { DeliveryQueue(database: database, settings: settings, logger: logger, channel: .email) }

    static let batch = 50

    /// Sends until no delivery is due; how many it settled (sent or given up).
    func sendDue() async throws -> Int {
        try await queue.drain(batch: Self.batch) { try await sendBatch($0) }
    }

    /// How an address that bounced is remembered: the SHA-256 of it, lower-cased, in hex.
    static func addressHash(_ address: String) -> String {
        Hex.encode(SHA256.hash(Data(address.lowercased().utf8)))
    }

    /// One leased batch, sent over one connection: how many of it were settled.
    private func sendBatch(_ claimed: [DeliveryQueue.Claimed]) async throws -> Int {
        let campaignIds = Array(Set(claimed.compactMap(\.campaignId)))
        let campaigns = try await database.withConnection { connection in
            var campaigns: [UUID: (subject: String, paragraphs: [String], policy: Bool)] = [:]
            for row in try connection.query("SELECT id, subject, text, purpose FROM campaigns WHERE id = ANY($1::uuid[])", campaignIds) {
                campaigns[try row.decode("id")] = (
                    try row.decode("subject"), Self.paragraphs(try row.decode("text")), try row.decode("purpose", as: String.self) == "policy"
                )
            }
            return campaigns
        }
        let accountIds = Array(Set(claimed.compactMap(\.accountId)))
        let contacts = accountIds.isEmpty ? [] : try await bus.call(Accounts.Contacts.self, .init(accountIds: accountIds), as: .system).contacts
        let byAccount = Dictionary(contacts.map { ($0.accountId, $0) }, uniquingKeysWith: { first, _ in first })
        let partnerIds = Array(Set(claimed.compactMap(\.partnerId)))
        let partners = Dictionary(
            (partnerIds.isEmpty ? [] : try await bus.call(Accounts.PartnerContacts.self, .init(partnerIds: partnerIds), as: .system).contacts)
                .map { ($0.partnerId, $0) }, uniquingKeysWith: { first, _ in first })
        let addresses = contacts.flatMap { [$0.email] + ($0.previousEmail.map { [$0] } ?? []) } + partners.values.compactMap(\.contactEmail)
        let hashes = Dictionary(addresses.map { ($0, Self.addressHash($0)) }, uniquingKeysWith: { first, _ in first })
        let blocked = try await database.withConnection { connection in
            Set(try connection.query(
                "SELECT address_hash FROM undeliverable_addresses WHERE address_hash = ANY($1::text[])", Array(hashes.values)
            ).map { try $0.decode("address_hash", as: String.self) })
        }

        // The names of the advisors digests tell of, asked once for the batch.
        let advisorIds = Set(claimed.flatMap { ($0.params["advisorIds"] ?? "").split(separator: ",").compactMap { UUID(uuidString: String($0)) } })
        var advisorNames: [UUID: String] = [:]
        let wanted = Array(advisorIds)
        // A batch of digests may name more advisors than one call may ask about.
        for start in stride(from: 0, to: wanted.count, by: Accounts.PublicNames.maxAccounts) {
            let page = Array(wanted[start..<min(start + Accounts.PublicNames.maxAccounts, wanted.count)])
            for name in try await bus.call(Accounts.PublicNames.self, .init(accountIds: page), as: .system).names {
                advisorNames[name.accountId] = name.displayName
            }
        }

        var results: [UUID: DeliveryQueue.Result] = [:]
        var outgoing: [(delivery: DeliveryQueue.Claimed, mail: OutgoingMail, messageID: String)] = []
        for delivery in claimed {
            if let partnerId = delivery.partnerId {
                // A notice to a partner: its name and contact address, nothing of anyone's.
                guard let partner = partners[partnerId], let address = partner.contactEmail else {
                    results[delivery.id] = .cancelled("the partner has no contact address")
                    continue
                }
                if let hash = hashes[address], blocked.contains(hash) {
                    results[delivery.id] = .failed("the address is undeliverable")
                    continue
                }
                var values: [String: Any] = ["partnerName": partner.name, "publicURL": settings.publicURL]
                for (key, value) in delivery.params { values[key] = value }
                if let reason = delivery.params["reason"] { values[reason] = true }
                guard let content = templates.render(delivery.kind, values) else {
                    results[delivery.id] = .failed("no template for \(delivery.kind)")
                    continue
                }
                do {
                    outgoing.append(try mail(delivery, content, toName: partner.name, address: address, extraHeaders: []))
                } catch {
                    results[delivery.id] = .retry("the message could not be signed")
                }
                continue
            }
            guard let contact = delivery.accountId.flatMap({ byAccount[$0] }) else {
                results[delivery.id] = .failed("the account is gone")
                continue
            }

            var values: [String: Any] = ["displayName": contact.displayName, "publicURL": settings.publicURL]
            for (key, value) in delivery.params { values[key] = value }
            values["advisor"] = delivery.params["role"] == Role.advisor.rawValue
            if let what = delivery.params["what"] { values[what] = true }
            if let text = delivery.params["text"] { values["paragraphs"] = Self.paragraphs(text) }
            var address = contact.email
            if delivery.params["to"] == "previous" {
                guard let previous = contact.previousEmail else {
                    results[delivery.id] = .cancelled("no previous address is kept")
                    continue
                }
                address = previous
            }
            if let hash = hashes[address], blocked.contains(hash) {
                results[delivery.id] = .failed("the address is undeliverable")
                continue
            }
            if let ids = delivery.params["advisorIds"] {
                let names = ids.split(separator: ",").compactMap { UUID(uuidString: String($0)).flatMap { advisorNames[$0] } }
                guard !names.isEmpty else {
                    results[delivery.id] = .cancelled("the advisors are no longer listed")
                    continue
                }
                values["advisors"] = names.map { ["name": $0] }
            }
            var extraHeaders: [(name: String, value: String)] = []
            if let campaignId = delivery.campaignId, let campaign = campaigns[campaignId], campaign.policy {
                // What everyone must be told: no consent asked, nothing to unsubscribe from.
                values["subject"] = campaign.subject
                values["paragraphs"] = campaign.paragraphs
                values["required"] = true
            } else if let campaignId = delivery.campaignId {
                // Marketing goes only to whom it may at the moment it leaves.
                guard contact.marketingConsents.contains("marketingEmail") else {
                    results[delivery.id] = .cancelled("the marketing consent for email is off")
                    continue
                }
                guard let campaign = campaigns[campaignId], let links = settings.links,
                    let token = try? links.token(for: contact.accountId, consent: "marketingEmail")
                else {
                    results[delivery.id] = .failed("the campaign or the link key is missing")
                    continue
                }
                let unsubscribe = "\(settings.publicURL)/v1/unsubscribe/\(token)"
                values["subject"] = campaign.subject
                values["paragraphs"] = campaign.paragraphs
                values["unsubscribeURL"] = unsubscribe
                extraHeaders = [("List-Unsubscribe", "<\(unsubscribe)>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
            }
            guard let content = templates.render(delivery.kind, values) else {
                results[delivery.id] = .failed("no template for \(delivery.kind)")
                continue
            }
            do {
                outgoing.append(try mail(delivery, content, toName: contact.displayName, address: address, extraHeaders: extraHeaders))
            } catch {
                results[delivery.id] = .retry("the message could not be signed")
            }
        }
        let outcomes = await client.send(outgoing.map(\.mail))
        for (sent, outcome) in zip(outgoing, outcomes) {
            switch outcome {
            case .accepted: results[sent.delivery.id] = .sent(messageID: sent.messageID)
            case .temporary(let reply): results[sent.delivery.id] = .retry(reply)
            case .permanent(let reply): results[sent.delivery.id] = .failed(reply)
            case .bounced(let reply): results[sent.delivery.id] = .bounced(reply, addressHash: Self.addressHash(sent.mail.to))
            }
        }
        let settled = try await queue.record(results, claimed: claimed)
        return settled
    }

    /// The message for `delivery`, rendered and signed (DKIM, when configured).
    private func mail(
        _ delivery: DeliveryQueue.Claimed, _ content: (subject: String, text: String, html: String), toName: String, address: String,
        extraHeaders: [(name: String, value: String)]
    ) throws -> (delivery: DeliveryQueue.Claimed, mail: OutgoingMail, messageID: String) {
        let messageID = "\(delivery.id.lowercasedString)@\(settings.mailFrom.split(separator: "@").last ?? "advisor.test")"
        let message = MailMessage(
            fromName: settings.mailFromName, fromAddress: settings.mailFrom, toName: toName, toAddress: address,
            subject: content.subject, text: content.text, html: content.html, messageID: messageID, date: Date(), extraHeaders: extraHeaders)
        var text = message.rendered()
        if let dkim = settings.dkim { text = try dkim.sign(text) }
        return (delivery, OutgoingMail(from: settings.mailFrom, to: address, text: text), messageID)
    }

    /// A campaign's text as paragraphs: apart where a line is blank.
    static func paragraphs(_ text: String) -> [String] {
        text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}
