import Bus
import Foundation
import Logging
import Metrics
import Models
import ServiceKit
import Store

/// What a person texts the platform's number: the carriers' keywords, each matched as the whole
/// message in any case (STOP and its synonyms stop every text to the number and withdraw SMS
/// marketing consent, START resumes texts but not marketing, HELP says who we are), each
/// answered with one reply. Anything else gets no answer: nobody reads the number.
struct TextMessageKeywords: Sendable {
    let database: Database
    let bus: BusClient
    let settings: NotificationsSettings
    let logger: Logger

    enum Keyword: Equatable {
        case stop, start, help
    }

    static let stopWords: Set<String> = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
    static let startWords: Set<String> = ["START", "UNSTOP", "YES"]
    static let helpWords: Set<String> = ["HELP", "INFO"]

    /// The keyword a message is, if it is one: the whole message, one word, any case, with
    /// surrounding spaces and a final full stop or exclamation mark ignored.
    static func keyword(in body: String) -> Keyword? {
        var word = body.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        while let last = word.last, last == "." || last == "!" { word.removeLast() }
        if stopWords.contains(word) { return .stop }
        if startWords.contains(word) { return .start }
        if helpWords.contains(word) { return .help }
        return nil
    }

    /// The reply to each keyword; every one fits a single GSM-7 segment or two.
    func reply(to keyword: Keyword) -> String {
        switch keyword {
        case .stop:
            return "Advisor Platform: you will get no more texts from us. Reply START to get them again."
        case .start:
            return "Advisor Platform: texts are back on. Marketing texts stay off until you turn them on in your settings. Reply STOP to stop."
        case .help:
            return "Advisor Platform: chat and account alerts. Msg & data rates may apply. Reply STOP to stop. More: \(settings.publicURL)"
        }
    }

    /// `notifications.sms-inbound`.
    func inbound(_ request: SMS.Inbound.Request, caller: Caller) async throws -> SMS.Inbound.Response {
        guard caller.has(.system) else { throw ServiceError(.forbidden, "only the platform hands on texts") }
        guard SMS.isE164(request.from) else {
            throw ServiceError(.validationFailed, "the sender is not E.164", fieldErrors: [.init(field: "from", code: "invalid")])
        }
        guard let keyword = Self.keyword(in: request.body) else { return .init(reply: nil) }
        if keyword != .help {
            // Accounts keeps the number's stop and the consent record; both are idempotent, so a
            // message the provider posts twice changes nothing more.
            _ = try await bus.call(Accounts.SMSOptOut.self, .init(phone: request.from, optOut: keyword == .stop), as: .system)
        }
        Counter(label: "notifications_sms_keywords_total", dimensions: [("keyword", "\(keyword)")]).increment()
        logger.info("sms keyword", metadata: ["sms.keyword": "\(keyword)", "sms.sid": "\(request.providerId)"])
        return .init(reply: reply(to: keyword))
    }

    /// `notifications.sms-status`: a report the provider sends for a text it accepted. Only a
    /// failure changes the delivery's record.
    func status(_ request: SMS.Status.Request, caller: Caller) async throws -> Empty {
        guard caller.has(.system) else { throw ServiceError(.forbidden, "only the platform hands on reports") }
        guard request.status == "failed" || request.status == "undelivered" else { return Empty() }
        let reason = "provider: \(request.status) \(request.errorCode ?? "")".trimmingCharacters(in: .whitespaces)
        try await database.withConnection { connection in
            try connection.execute(
                "UPDATE deliveries SET status = 'failed', last_error = $2 WHERE channel = 'sms' AND message_id = $1", request.providerId,
                String(reason.prefix(200)))
        }
        return Empty()
    }
}
