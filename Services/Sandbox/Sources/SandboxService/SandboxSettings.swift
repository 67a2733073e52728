public import Foundation
public import Logging
import PlatformSecurity
public import ServiceKit

/// What the sandbox reads from its environment. It stands in for outside providers on a local run
/// and in tests, never in a deployment, so its secrets have well-known defaults.
public struct SandboxSettings: Sendable {
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    public var adminHost: String
    public var adminPort: Int
    public var host: String
    public var port: Int
    /// The processor's secret API key, which the platform's integration service presents.
    public var processorSecretKey: String
    /// Where the processor delivers its webhooks (the integration service's receiver); none sent when empty.
    public var processorWebhookURL: String
    /// The secret webhooks are signed with.
    public var processorWebhookSecret: String
    /// How long after a charge with the dispute test card its dispute arrives.
    public var disputeDelay: Duration
    /// How long a payout takes to be paid (its webhook).
    public var payoutDelay: Duration
    /// The mail server's port (`SANDBOX_SMTP_PORT`, 2525) on `host`.
    public var smtpPort: Int
    /// Credentials the mail server asks for (`SANDBOX_SMTP_USER`, `SANDBOX_SMTP_PASSWORD`); none when empty.
    public var smtpCredentials: (user: String, password: String)?
    /// The SMS provider's account sid, auth token and the platform's number
    /// (`SANDBOX_SMS_ACCOUNT_SID`, `SANDBOX_SMS_AUTH_TOKEN`, `SANDBOX_SMS_NUMBER`), and where it
    /// posts inbound messages (`SANDBOX_SMS_WEBHOOK_URL`; none taken when empty).
    var sms: SMSProvider.Settings
    /// The credential verifier's API key, where and under which secret it posts results, and how
    /// long a check takes (`SANDBOX_VERIFIER_*`).
    var verifier: CredentialVerifier.Settings
    /// The OpenID provider: where it is reached (`SANDBOX_PUBLIC_URL`, the issuer is that and
    /// `/oidc`) and the client it knows (`SANDBOX_OIDC_CLIENT_ID`, `SANDBOX_OIDC_CLIENT_SECRET`).
    var openID: OpenIDProvider.Settings

    public init(reading reader: inout ConfigReader) {
        let level = reader.choice(
            "LOG_LEVEL", default: "info", from: ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        logLevel = Logger.Level(rawValue: level) ?? .info
        logFormat = LogFormat(rawValue: reader.choice("LOG_FORMAT", default: "text", from: ["text", "json"])) ?? .text
        adminHost = reader.string("ADMIN_HOST", default: "127.0.0.1")
        adminPort = reader.int("ADMIN_PORT", default: 0, in: 0...65535)
        host = reader.string("SANDBOX_HOST", default: "127.0.0.1")
        port = reader.int("SANDBOX_PORT", default: 8090, in: 0...65535)
        processorSecretKey = reader.string("SANDBOX_PROCESSOR_SECRET_KEY", default: "sk_test_sandbox")
        processorWebhookURL = reader.string("SANDBOX_PROCESSOR_WEBHOOK_URL", default: "")
        processorWebhookSecret = reader.string("SANDBOX_PROCESSOR_WEBHOOK_SECRET", default: "whsec_sandbox")
        disputeDelay = .seconds(reader.int("SANDBOX_DISPUTE_SECONDS", default: 30, in: 0...86_400))
        payoutDelay = .seconds(reader.int("SANDBOX_PAYOUT_SECONDS", default: 2, in: 0...86_400))
        smtpPort = reader.int("SANDBOX_SMTP_PORT", default: 2525, in: 0...65535)
        let user = reader.string("SANDBOX_SMTP_USER", default: "")
        smtpCredentials = user.isEmpty ? nil : (user, reader.string("SANDBOX_SMTP_PASSWORD", default: ""))
        sms = SMSProvider.Settings(
            accountSid: reader.string("SANDBOX_SMS_ACCOUNT_SID", default: "ACsandbox"),
            authToken: reader.string("SANDBOX_SMS_AUTH_TOKEN", default: "sandbox_sms_token"),
            number: reader.string("SANDBOX_SMS_NUMBER", default: "+15005550006"),
            webhookURL: reader.string("SANDBOX_SMS_WEBHOOK_URL", default: ""))
        verifier = CredentialVerifier.Settings(
            apiKey: reader.string("SANDBOX_VERIFIER_API_KEY", default: "vk_test_sandbox"),
            webhookURL: reader.string("SANDBOX_VERIFIER_WEBHOOK_URL", default: ""),
            webhookSecret: reader.string("SANDBOX_VERIFIER_WEBHOOK_SECRET", default: "whsec_c2FuZGJveC12ZXJpZmllci1zZWNyZXQ="),
            delay: .milliseconds(reader.int("SANDBOX_VERIFIER_DELAY_MS", default: 300, in: 0...600_000)))
        openID = OpenIDProvider.Settings(
            publicURL: reader.httpURL("SANDBOX_PUBLIC_URL", default: "http://\(host):\(port)"),
            clientId: reader.string("SANDBOX_OIDC_CLIENT_ID", default: "advisor-platform"),
            clientSecret: reader.string("SANDBOX_OIDC_CLIENT_SECRET", default: "sandbox-oidc-secret"))
        if StandardWebhookSignature.key(of: verifier.webhookSecret) == nil {
            reader.problem("SANDBOX_VERIFIER_WEBHOOK_SECRET must be whsec_ and base64")
        }
    }
}
