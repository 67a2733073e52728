import Bus
import Foundation
public import Hummingbird
import Logging
import Models
import NIOCore
import PlatformSecurity
public import ServiceKit
import Store

/// The integration process's settings: where partners reach it, and the payment processor it fronts.
public struct IntegrationSettings: Sendable {
    public var process: ProcessSettings
    public var host: String
    public var port: Int
    /// The processor's API (`PROCESSOR_BASE_URL`; the sandbox on a local run).
    public var processorBaseURL: String
    /// The processor's secret API key (`PROCESSOR_SECRET_KEY`).
    public var processorSecretKey: String
    /// The secret the processor signs its webhooks with (`PROCESSOR_WEBHOOK_SECRET`).
    public var processorWebhookSecret: String
    /// How long one processor request may take before its outcome counts as unknown.
    public var processorTimeoutSeconds: Int
    /// How many `payments.*` calls one instance serves at once.
    public var workerSlots: Int
    /// The SMS provider: its API (`SMS_BASE_URL`), account (`SMS_ACCOUNT_SID`), auth token
    /// (`SMS_AUTH_TOKEN`, which also signs its webhooks) and the platform's number (`SMS_FROM`).
    var sms: SMSGateway.Settings
    /// Requests each partner key may make per minute, on each instance (`INTEGRATION_RATE_PER_MINUTE`, 600).
    var ratePerMinute: Int
    /// Report groups smaller than this are suppressed (`INTEGRATION_REPORT_MIN_GROUP`, 10).
    var reportMinGroup: Int
    /// The referral programme's share of what referred members pay for chats, the same for every
    /// partner (`INTEGRATION_REVENUE_SHARE_PERCENT`, 20).
    var revenueSharePercent: Int
    /// How often finished days' `referral.converted` messages are looked for
    /// (`INTEGRATION_REFERRAL_WEBHOOK_SECONDS`, 300).
    var referralWebhookSeconds: Int
    /// The service's own tables, partners' webhook endpoints and deliveries (`DATABASE_URL`,
    /// schema `DATABASE_SCHEMA`, default `integration`).
    var database: DatabaseConfig
    /// Seals webhook signing secrets at rest (`INTEGRATION_DATA_KEY`, base64 of 32 random bytes;
    /// the database never holds it).
    var dataKey: Data
    var webhooks: WebhookSettings
    /// The credential verification provider; nil without `VERIFIER_API_KEY` (staff decide then).
    var verifier: CredentialVerification.Settings?
    /// Social sign-in's OpenID providers (`SOCIAL_PROVIDERS`, ids separated by commas; each with
    /// `SOCIAL_<ID>_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` and `_NAME`); none when unset.
    var socialProviders: [SocialSignIn.ProviderSettings]

    public init(reading reader: inout ConfigReader) {
        process = ProcessSettings(reading: &reader)
        host = reader.string("INTEGRATION_HOST", default: "127.0.0.1")
        port = reader.int("INTEGRATION_PORT", default: 8081, in: 0...65535)
        processorBaseURL = reader.httpURL("PROCESSOR_BASE_URL", default: "http://127.0.0.1:8090")
        processorSecretKey = reader.required("PROCESSOR_SECRET_KEY")
        processorWebhookSecret = reader.required("PROCESSOR_WEBHOOK_SECRET")
        processorTimeoutSeconds = reader.int("PROCESSOR_TIMEOUT_SECONDS", default: 10, in: 1...120)
        workerSlots = reader.int("WORKER_SLOTS", default: 16, in: 1...256)
        ratePerMinute = reader.int("INTEGRATION_RATE_PER_MINUTE", default: 600, in: 1...100_000)
        reportMinGroup = reader.int("INTEGRATION_REPORT_MIN_GROUP", default: 10, in: 1...1000)
        revenueSharePercent = reader.int("INTEGRATION_REVENUE_SHARE_PERCENT", default: 20, in: 0...100)
        referralWebhookSeconds = reader.int("INTEGRATION_REFERRAL_WEBHOOK_SECONDS", default: 300, in: 1...86_400)
        database = DatabaseConfig(
            url: reader.required("DATABASE_URL"), poolSize: reader.int("DATABASE_POOL_SIZE", default: 4, in: 1...64),
            schema: reader.string("DATABASE_SCHEMA", default: "integration"), applicationName: "integration",
            maxQueuedJobs: reader.int("DATABASE_POOL_QUEUE", default: 64, in: 1...10_000))
        let encodedKey = reader.required("INTEGRATION_DATA_KEY")
        dataKey = Data(base64Encoded: encodedKey) ?? Data()
        if !encodedKey.isEmpty, dataKey.count != 32 { reader.problem("INTEGRATION_DATA_KEY must be 32 random bytes in base64") }
        webhooks = WebhookSettings(reading: &reader)
        let verifierKey = reader.string("VERIFIER_API_KEY", default: "")
        if verifierKey.isEmpty {
            verifier = nil
        } else {
            let verifierSecret = reader.string("VERIFIER_WEBHOOK_SECRET", default: "")
            if StandardWebhookSignature.key(of: verifierSecret) == nil {
                reader.problem("VERIFIER_WEBHOOK_SECRET must be the verifier's whsec_ secret (needed with VERIFIER_API_KEY)")
            }
            verifier = .init(
                baseURL: reader.httpURL("VERIFIER_BASE_URL", default: "http://127.0.0.1:8090"), apiKey: verifierKey,
                webhookSecret: verifierSecret, timeout: .seconds(10))
        }
        socialProviders = []
        for id in reader.list("SOCIAL_PROVIDERS") {
            guard id.wholeMatch(of: /[a-z0-9][a-z0-9-]{0,31}/) != nil else {
                reader.problem("SOCIAL_PROVIDERS holds \"\(id)\": an id is lowercase letters, digits and dashes")
                continue
            }
            guard !socialProviders.contains(where: { $0.id == id }) else {
                reader.problem("SOCIAL_PROVIDERS names \"\(id)\" twice")
                continue
            }
            let prefix = "SOCIAL_" + id.uppercased().replacingOccurrences(of: "-", with: "_") + "_"
            socialProviders.append(
                .init(
                    id: id, name: reader.string(prefix + "NAME", default: id.capitalized), issuer: Self.issuer(prefix + "ISSUER", &reader),
                    clientId: reader.required(prefix + "CLIENT_ID"), clientSecret: reader.required(prefix + "CLIENT_SECRET")))
        }
        let smsBaseURL = reader.httpURL("SMS_BASE_URL", default: "http://127.0.0.1:8090")
        let from = reader.required("SMS_FROM")
        if !from.isEmpty, !SMS.isE164(from) { reader.problem("SMS_FROM must be the platform's number in E.164 (+ and 8 to 15 digits)") }
        // What the provider signs is the URL it posted to, so this must be the address it uses.
        var publicURL = reader.string("INTEGRATION_PUBLIC_URL", default: "http://\(host):\(port)")
        if publicURL.hasSuffix("/") { publicURL.removeLast() }
        sms = SMSGateway.Settings(
            baseURL: smsBaseURL, accountSid: reader.required("SMS_ACCOUNT_SID"), authToken: reader.required("SMS_AUTH_TOKEN"),
            // Within `SMS.Send`'s 15 s, so the caller never gives up on a text the provider took.
            from: from, publicURL: publicURL, timeout: .seconds(Int64(min(processorTimeoutSeconds, 10))))
    }
}

extension IntegrationSettings {
    /// An OpenID issuer exactly as configured (tokens must name it byte for byte, a trailing
    /// slash included), when it is an http(s) URL.
    fileprivate static func issuer(_ name: String, _ reader: inout ConfigReader) -> String {
        let value = reader.string(name, default: "")
        if URL(string: value)?.host == nil || !(value.hasPrefix("https://") || value.hasPrefix("http://")) {
            reader.problem("\(name) must be the provider's issuer, an http(s) URL, got \"\(value)\"")
        }
        return value
    }
}

/// RFC 6750 §3: a 401 from the partner API (keys and access tokens are both bearer tokens) says
/// which scheme it wants, and `invalid_token` when one was sent and not taken. Providers'
/// webhooks, on the same port, sign instead and get no challenge.
struct BearerChallengeMiddleware: RouterMiddleware {
    typealias Context = IntegrationRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        if response.status == .unauthorized, request.uri.path.hasPrefix("/partner/"), response.headers[.wwwAuthenticate] == nil {
            response.headers[.wwwAuthenticate] =
                request.headers[.authorization] == nil ? #"Bearer realm="partner-api""# : #"Bearer realm="partner-api", error="invalid_token""#
        }
        return response
    }
}

/// The context of one partner request.
public struct IntegrationRequestContext: IdentifiedRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String

    public init(source: Source) {
        coreContext = .init(source: source)
        requestId = ""
    }

    public var maxUploadSize: Int { HTTPLimits.maxBodyBytes }
}

extension IntegrationMain {
    /// The name the integration service's event cursors are kept under.
    static let consumerName = ServiceName("integration")

    /// The partner API's description, shipped with the service.
    static func openAPIDocument() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json") else {
            throw ServiceError(.internalError, "openapi.json is missing from the integration service's bundle")
        }
        return try Data(contentsOf: url)
    }
}

/// The integration process: the HTTP entry for partners and providers' webhooks, and on the bus
/// the worker of `payments.*`, `sms.*` and `identity.*`, the only process that speaks the payment
/// processor's, the SMS provider's and the sign-in providers' protocols.
public enum IntegrationMain {
    public static let definition = EdgeServiceDefinition(
        name: "integration", read: { IntegrationSettings(reading: &$0) }, process: \.process
    ) { settings, process in
        let caller = BusCaller(context: process.context, settings: settings.process, logger: process.logger)
        let logger = process.logger
        let processor = ProcessorClient(
            baseURL: settings.processorBaseURL, secretKey: settings.processorSecretKey,
            timeout: .seconds(Int64(settings.processorTimeoutSeconds)), logger: logger)
        let worker = ServiceWorker(
            context: process.context, endpoint: settings.process.endpoints.mdp, service: .payments,
            instanceId: settings.process.instanceId, slots: settings.workerSlots, curve: settings.process.curve, logger: logger)
        worker.handle(Payments.SaveCard.self) { request, context in
            guard context.caller.has(.system) else { throw ServiceError(.forbidden, "payments are the platform's") }
            return try await processor.saveCard(token: request.token)
        }
        worker.handle(Payments.Charge.self) { request, context in
            guard context.caller.has(.system) else { throw ServiceError(.forbidden, "payments are the platform's") }
            return await processor.charge(request)
        }
        worker.handle(Payments.Payout.self) { request, context in
            guard context.caller.has(.system) else { throw ServiceError(.forbidden, "payments are the platform's") }
            return await processor.payout(request)
        }

        let sms = SMSGateway(settings: settings.sms, bus: caller.bus, logger: logger)
        let smsWorker = ServiceWorker(
            context: process.context, endpoint: settings.process.endpoints.mdp, service: .sms,
            instanceId: settings.process.instanceId, slots: settings.workerSlots, curve: settings.process.curve, logger: logger)
        smsWorker.handle(SMS.Send.self) { request, context in
            guard context.caller.has(.system) else { throw ServiceError(.forbidden, "texts are sent by the platform") }
            return try await sms.send(request)
        }

        let database = Database(settings.database, logger: logger)
        let dataKeys = try KeyRing(current: SealingKey(id: "integration", material: settings.dataKey))
        let social = SocialSignIn(
            settings: settings.socialProviders, database: database, keys: dataKeys,
            timeout: .seconds(5), logger: logger)
        let identityWorker = ServiceWorker(
            context: process.context, endpoint: settings.process.endpoints.mdp, service: .identity,
            instanceId: settings.process.instanceId, slots: settings.workerSlots, curve: settings.process.curve, logger: logger)
        social.register(on: identityWorker)
        let webhooks = WebhookEndpoints(
            database: database, keys: dataKeys,
            settings: settings.webhooks, wakeup: DeliveryWakeup())
        let router = Router(context: IntegrationRequestContext.self)
        router.add(middleware: RequestTraceMiddleware<IntegrationRequestContext>())
        router.add(middleware: BearerChallengeMiddleware())
        router.add(middleware: ProblemMiddleware<IntegrationRequestContext>())
        let document = try Self.openAPIDocument()
        router.add(middleware: MethodNotAllowedMiddleware<IntegrationRequestContext>(openAPIDocument: document))
        router.get("healthz") { _, _ in "ok\n" }
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
        PartnerAPI(
            bus: caller.bus, limiter: RateLimiter(perMinute: settings.ratePerMinute), minGroupSize: settings.reportMinGroup,
            revenueSharePercent: settings.revenueSharePercent, webhooks: webhooks, logger: logger
        ).register(on: router)
        ProcessorWebhooks(secret: settings.processorWebhookSecret, tolerance: 300, bus: caller.bus, logger: logger)
            .register(on: router)
        sms.register(on: router)
        let verification = settings.verifier.map {
            CredentialVerification(settings: $0, database: database, bus: caller.bus, logger: logger)
        }
        verification?.register(on: router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "advisor-integration"),
            onServerRunning: { channel in
                logger.info("integration listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)
        let conversions = ReferralConversions(
            endpoints: webhooks, database: database, bus: caller.bus, minGroupSize: settings.reportMinGroup,
            revenueSharePercent: settings.revenueSharePercent)
        let subscriptions = webhooks.subscriptions() + (verification?.subscriptions() ?? [])
        var maintenance = webhooks.retention() + [
            social.retention(),
            MaintenanceTask(name: "integration.tell-endpoint-owners", interval: .seconds(5)) { _ in try await webhooks.tellOwners(bus: caller.bus) },
            MaintenanceTask(name: "integration.referral-conversions", interval: .seconds(settings.referralWebhookSeconds)) { _ in
                try await conversions.sendDue()
            },
        ]
        if let verification {
            maintenance.append(MaintenanceTask(name: "integration.send-verifications", interval: .seconds(1)) { _ in try await verification.sendDue() })
        }
        let consumer = EventConsumer(
            consumer: Self.consumerName, subscriptions: subscriptions,
            subscriber: EventSubscriber(
                context: process.context, endpoint: settings.process.endpoints.eventsOut,
                prefixes: EventConsumer.topicPrefixes(for: subscriptions), curve: settings.process.curve, logger: logger),
            database: database, bus: caller.bus, logger: logger)
        var readiness = caller.readiness
        readiness.add("database") { await database.ping() }
        readiness.add("bus") { await worker.isRegistered() }
        readiness.add("bus-sms") { await smsWorker.isRegistered() }
        readiness.add("bus-identity") { await identityWorker.isRegistered() }
        return EdgeParts(
            resources: [caller.resource, database],
            services: [
                consumer, MaintenanceRunner(tasks: maintenance, database: database, logger: logger),
                WebhookDeliverer(endpoints: webhooks, logger: logger), app, WorkerRunner(worker: worker), WorkerRunner(worker: smsWorker),
                WorkerRunner(worker: identityWorker),
            ],
            readiness: readiness,
            prepare: {
                try await database.migrate(PlatformTables.migrations, table: "platform_migrations")
                guard let folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
                    throw ServiceError(.internalError, "the integration service's Migrations folder is missing from its bundle")
                }
                try await database.migrate(try Migration.load(from: folder))
            })
    }
}
