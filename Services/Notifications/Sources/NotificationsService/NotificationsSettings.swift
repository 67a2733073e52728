import Foundation
import PlatformSecurity
public import ServiceKit

/// What the notifications service needs beyond the settings every worker service has.
public struct NotificationsSettings: Sendable {
    /// The mail relay (`SMTP_URL`, `smtp://[user:password@]host[:port]`); no email is sent, and
    /// none is planned, without one.
    var relay: SMTPRelay?
    /// The certificates a relay's STARTTLS certificate is verified against
    /// (`NOTIFICATIONS_SMTP_CA_FILE`, PEM); the system's when unset.
    var smtpCAFile: String?
    /// Who the platform's email comes from (`NOTIFICATIONS_MAIL_FROM`, an address).
    var mailFrom: String
    /// The name shown beside it (`NOTIFICATIONS_MAIL_FROM_NAME`).
    var mailFromName: String
    /// Where people open the platform, for the links in messages (`NOTIFICATIONS_PUBLIC_URL`).
    var publicURL: String
    /// Signs every email when a key is configured (`NOTIFICATIONS_DKIM_KEY_FILE`, an RSA private key
    /// in PEM, 2048 bits or more; `NOTIFICATIONS_DKIM_SELECTOR`, `advisor`; `NOTIFICATIONS_DKIM_DOMAIN`,
    /// the sender's domain by default).
    var dkim: DKIMSigner?
    /// Signs unsubscribe links (`NOTIFICATIONS_LINK_KEY`, base64 of 32 random bytes or more),
    /// needed with a relay: every instance must share it, or links one made fail at another.
    var links: UnsubscribeLinks?
    /// How long favorite-online email waits for other advisors to join it in one digest
    /// (`NOTIFICATIONS_DIGEST_SECONDS`).
    var digestSeconds: Int
    /// How long a delivery being sent is one instance's before another may take it
    /// (`NOTIFICATIONS_LEASE_SECONDS`): longer than a batch takes to send.
    var leaseSeconds: Int
    /// Tries of a delivery that keeps failing for a while before it is given up (`NOTIFICATIONS_MAX_ATTEMPTS`).
    var maxAttempts: Int
    /// The first wait before trying a delivery again, doubled each time up to an hour
    /// (`NOTIFICATIONS_RETRY_SECONDS`).
    var retrySeconds: Int

    /// Reads the `SMTP_URL` and `NOTIFICATIONS_*` variables; every problem is named by the reader.
    public static func read(_ reader: inout ConfigReader) -> NotificationsSettings {
        let url = reader.string("SMTP_URL", default: "")
        let relay = SMTPRelay(url: url)
        if !url.isEmpty, relay == nil { reader.problem("SMTP_URL must look like smtp://[user:password@]host[:port], got something else") }
        let from = reader.string("NOTIFICATIONS_MAIL_FROM", default: "no-reply@advisor.test")
        if from.split(separator: "@").count != 2 || from.contains(where: { $0 == "<" || $0 == ">" || $0.isWhitespace }) {
            reader.problem("NOTIFICATIONS_MAIL_FROM must be a bare email address")
        }
        var dkim: DKIMSigner?
        let keyFile = reader.string("NOTIFICATIONS_DKIM_KEY_FILE", default: "")
        if !keyFile.isEmpty {
            do {
                let key = try RSASigner(pem: try String(contentsOfFile: keyFile, encoding: .utf8))
                dkim = DKIMSigner(
                    domain: reader.string("NOTIFICATIONS_DKIM_DOMAIN", default: String(from.split(separator: "@").last ?? "")),
                    selector: reader.string("NOTIFICATIONS_DKIM_SELECTOR", default: "advisor"), key: key)
            } catch {
                reader.problem("NOTIFICATIONS_DKIM_KEY_FILE must name a readable RSA private key in PEM of 2048 bits or more")
            }
        }
        var links: UnsubscribeLinks?
        let linkKey = reader.string("NOTIFICATIONS_LINK_KEY", default: "")
        if let key = Data(base64Encoded: linkKey), let signer = try? TokenSigner(key: key) {
            links = UnsubscribeLinks(signer: signer)
        } else if !linkKey.isEmpty || relay != nil {
            reader.problem("NOTIFICATIONS_LINK_KEY must be base64 of 32 random bytes or more (needed with SMTP_URL)")
        }
        let caFile = reader.string("NOTIFICATIONS_SMTP_CA_FILE", default: "")
        if !caFile.isEmpty, !FileManager.default.isReadableFile(atPath: caFile) {
            reader.problem("NOTIFICATIONS_SMTP_CA_FILE must name a readable file of PEM certificates")
        }
        return NotificationsSettings(
            relay: relay, smtpCAFile: caFile.isEmpty ? nil : caFile, mailFrom: from, mailFromName: reader.string("NOTIFICATIONS_MAIL_FROM_NAME", default: "Advisor Platform"),
            publicURL: reader.string("NOTIFICATIONS_PUBLIC_URL", default: "http://127.0.0.1:8080"), dkim: dkim, links: links,
            digestSeconds: reader.int("NOTIFICATIONS_DIGEST_SECONDS", default: 300, in: 0...86_400),
            leaseSeconds: reader.int("NOTIFICATIONS_LEASE_SECONDS", default: 120, in: 1...3600),
            maxAttempts: reader.int("NOTIFICATIONS_MAX_ATTEMPTS", default: 10, in: 1...100),
            retrySeconds: reader.int("NOTIFICATIONS_RETRY_SECONDS", default: 30, in: 1...3600))
    }
}
