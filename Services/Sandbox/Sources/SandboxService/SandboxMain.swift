public import Foundation
import Hummingbird
import Logging
import ServiceKit
import Synchronization

/// The sandbox process: the outside world for local runs and tests only — a payment processor, an
/// SMS provider, a credential verifier, an OpenID provider and a mail inbox on its HTTP port, and a mail server on its SMTP port. Its admin port answers
/// `/readyz` like every process of the platform.
public enum SandboxMain {
    public static func run(environment: [String: String] = ProcessInfo.processInfo.environment) async -> Int32 {
        guard let settings = ProcessSettings.load("sandbox", environment: environment, { SandboxSettings(reading: &$0) }) else {
            return 2
        }
        LoggingSetup.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let registry = MetricsSetup.bootstrap()
        let logger = Logger(label: "advisor.sandbox")
        let processor = Processor(secretKey: settings.processorSecretKey)
        let webhooks = WebhookSender(
            url: settings.processorWebhookURL, secret: settings.processorWebhookSecret, processor: processor, logger: logger)
        let listening = ListeningFlag()
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        ProcessorRoutes(
            processor: processor, webhooks: webhooks, secretKey: settings.processorSecretKey, disputeDelay: settings.disputeDelay,
            payoutDelay: settings.payoutDelay
        ).register(on: router)
        let mail = MailStore()
        MailRoutes(store: mail).register(on: router)
        SMSRoutes(provider: SMSProvider(settings: settings.sms, logger: logger), logger: logger).register(on: router)
        CredentialVerifierRoutes(verifier: CredentialVerifier(settings: settings.verifier, logger: logger)).register(on: router)
        do {
            OpenIDProviderRoutes(provider: try await OpenIDProvider(settings: settings.openID), logger: logger).register(on: router)
        } catch {
            logger.critical("the OpenID provider's keys could not be made", metadata: ["error": "\(error)"])
            return 1
        }
        let smtpListening = ListeningFlag()
        let mailServer = MailServer(
            host: settings.host, port: settings.smtpPort, credentials: settings.smtpCredentials, store: mail, listening: smtpListening,
            logger: logger)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "advisor-sandbox"),
            onServerRunning: { channel in
                listening.value.store(true, ordering: .releasing)
                logger.info("sandbox listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        var readiness = ReadinessChecks()
        readiness.add("http") { listening.value.load(ordering: .acquiring) }
        readiness.add("smtp") { smtpListening.value.load(ordering: .acquiring) }
        let admin = AdminServer.build(
            host: settings.adminHost, port: settings.adminPort, readiness: readiness, registry: registry,
            processName: "sandbox", logger: logger)
        return await ProcessMain.run(logger: logger, resources: []) { [admin, app, mailServer] }
    }
}

/// Whether the sandbox's port is open yet.
final class ListeningFlag: Sendable {
    let value = Atomic<Bool>(false)
}
