import Foundation
import Models
import Testing
import TestSupport

/// The whole platform started for real (broker, the six services on one fresh database, the
/// gateway), and an HTTP client for the gateway, for the accounts and privacy end-to-end tests.
final class AccountsPlatform: Sendable {
    let harness: PlatformHarness
    let gateway: String
    /// What the accounts process is started with besides the bus and the database: its data key.
    let accountsEnvironment: [String: String]
    /// The outside world's payment processor (the sandbox) and the integration service's HTTP
    /// entry, when the platform was started with `payments`.
    let payments: Payments?
    /// What each service was started with besides the bus and the database, to start it again.
    let servicesEnvironment: [ServiceName: [String: String]]
    /// The sandbox's HTTP base (its mail inbox) and SMTP port, when started with `mail`; the
    /// notifications service then sends through that mail server.
    let mail: Mail?

    struct Mail: Sendable {
        let sandbox: String
        let smtpPort: Int
    }

    struct Payments: Sendable {
        let sandbox: String
        let integration: String
        /// The integration service's environment, for starting more instances of it.
        let integrationEnvironment: [String: String]
        static let secretKey = "sk_test_e2e"
        static let webhookSecret = "whsec_e2e"
        /// The SMS provider's account and auth token, and the platform's number, as the sandbox and integration share them.
        static let smsAccountSid = "ACe2e"
        static let smsAuthToken = "sms_token_e2e"
        static let smsNumber = "+15005550006"
        /// The credential verifier's API key and the secret it signs results with, shared the same way.
        static let verifierKey = "vk_e2e"
        static let verifierSecret = "whsec_" + Data("credential-verifier-e2e-secret".utf8).base64EncodedString()
        /// The platform as the sandbox's OpenID provider's client.
        static let openIDClientId = "advisor-e2e"
        static let openIDClientSecret = "oidc-e2e-secret"
    }

    private init(
        harness: PlatformHarness, gateway: String, accountsEnvironment: [String: String], servicesEnvironment: [ServiceName: [String: String]],
        payments: Payments?, mail: Mail?
    ) {
        self.harness = harness
        self.servicesEnvironment = servicesEnvironment
        self.gateway = gateway
        self.accountsEnvironment = accountsEnvironment
        self.payments = payments
        self.mail = mail
    }

    /// Starts everything and waits until every process is ready; the gateway also gets
    /// `gatewayEnvironment`, each service its entry of `serviceEnvironment`. With `payments`, the
    /// sandbox and the integration service are started too, with `sandboxEnvironment` and
    /// `integrationEnvironment`; with `mail`, the sandbox (first), and notifications sends through
    /// its mail server.
    static func start(
        gatewayEnvironment: [String: String] = [:], serviceEnvironment: [ServiceName: [String: String]] = [:],
        payments: Bool = false, mail: Bool = false, sandboxEnvironment: [String: String] = [:],
        integrationEnvironment: [String: String] = [:]
    ) async throws -> AccountsPlatform {
        let harness = try await PlatformHarness(schemas: ServiceName.all.map(\.rawValue) + ["integration"])
        do {
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            let accountsEnvironment = [
                "ACCOUNTS_DATA_KEY": key, "ACCOUNTS_DATA_KEY_ID": "test-1",
                "ACCOUNTS_EMAIL_INDEX_KEY": PlatformHarness.accountsEmailIndexKey,
            ]
            let sandboxPort = try FreePort.next()
            let integrationPort = try FreePort.next()
            var sandbox = [
                "SANDBOX_PORT": "\(sandboxPort)", "SANDBOX_PROCESSOR_SECRET_KEY": Payments.secretKey,
                "SANDBOX_PROCESSOR_WEBHOOK_SECRET": Payments.webhookSecret,
                "SANDBOX_PROCESSOR_WEBHOOK_URL": "http://127.0.0.1:\(integrationPort)/webhooks/processor",
                "SANDBOX_SMS_ACCOUNT_SID": Payments.smsAccountSid, "SANDBOX_SMS_AUTH_TOKEN": Payments.smsAuthToken,
                "SANDBOX_SMS_NUMBER": Payments.smsNumber, "SANDBOX_SMS_WEBHOOK_URL": "http://127.0.0.1:\(integrationPort)/webhooks/sms",
                "SANDBOX_VERIFIER_API_KEY": Payments.verifierKey, "SANDBOX_VERIFIER_WEBHOOK_SECRET": Payments.verifierSecret,
                "SANDBOX_VERIFIER_WEBHOOK_URL": "http://127.0.0.1:\(integrationPort)/webhooks/verification",
                "SANDBOX_OIDC_CLIENT_ID": Payments.openIDClientId, "SANDBOX_OIDC_CLIENT_SECRET": Payments.openIDClientSecret,
            ].merging(sandboxEnvironment) { _, new in new }
            var mailParts: Mail?
            var serviceEnvironment = serviceEnvironment
            if mail {
                let smtpPort = try FreePort.next()
                sandbox["SANDBOX_SMTP_PORT"] = "\(smtpPort)"
                _ = try await harness.start("sandbox", environment: sandbox)
                mailParts = Mail(sandbox: "http://127.0.0.1:\(sandboxPort)", smtpPort: smtpPort)
                let linkKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
                serviceEnvironment[.notifications] = ["SMTP_URL": "smtp://127.0.0.1:\(smtpPort)", "NOTIFICATIONS_LINK_KEY": linkKey].merging(
                    serviceEnvironment[.notifications] ?? [:]) { _, given in given }
            } else {
                // The sandbox's mail server must not take the port another test's sandbox holds.
                sandbox["SANDBOX_SMTP_PORT"] = "\(try FreePort.next())"
            }
            try await harness.startBroker()
            for service in ServiceName.all {
                try await harness.startService(
                    service.rawValue, schema: service.rawValue,
                    environment: (service == .accounts ? accountsEnvironment : [:]).merging(serviceEnvironment[service] ?? [:]) {
                        _, new in new
                    })
            }
            let port = try FreePort.next()
            // With payments, the web client sends cards to the sandbox processor, as it would to the real one.
            let processor = payments ? ["GATEWAY_PROCESSOR_URL": "http://127.0.0.1:\(sandboxPort)"] : [:]
            let environment = harness.bus.merging(
                gatewayEnvironment.merging(processor) { given, _ in given }.merging(["GATEWAY_PORT": "\(port)"]) { _, new in new }
            ) { _, new in new }
            _ = try await harness.start("gateway", environment: environment)
            var paymentsParts: Payments?
            if payments {
                let sandboxSettings = sandbox
                @Sendable func startSandbox() async throws {
                    if !mail { _ = try await harness.start("sandbox", environment: sandboxSettings) }
                }
                async let sandboxStarted: Void = startSandbox()
                let integration = harness.bus.merging([
                    "INTEGRATION_PORT": "\(integrationPort)", "PROCESSOR_BASE_URL": "http://127.0.0.1:\(sandboxPort)",
                    "PROCESSOR_SECRET_KEY": Payments.secretKey, "PROCESSOR_WEBHOOK_SECRET": Payments.webhookSecret,
                    "SMS_BASE_URL": "http://127.0.0.1:\(sandboxPort)", "SMS_ACCOUNT_SID": Payments.smsAccountSid,
                    "SMS_AUTH_TOKEN": Payments.smsAuthToken, "SMS_FROM": Payments.smsNumber,
                    "DATABASE_URL": harness.database.url, "DATABASE_SCHEMA": "integration", "DATABASE_POOL_SIZE": "2",
                    "INTEGRATION_DATA_KEY": PlatformHarness.integrationDataKey,
                    "VERIFIER_BASE_URL": "http://127.0.0.1:\(sandboxPort)", "VERIFIER_API_KEY": Payments.verifierKey,
                    "VERIFIER_WEBHOOK_SECRET": Payments.verifierSecret,
                    "SOCIAL_PROVIDERS": "sandbox", "SOCIAL_SANDBOX_NAME": "Sandbox ID",
                    "SOCIAL_SANDBOX_ISSUER": "http://127.0.0.1:\(sandboxPort)/oidc", "SOCIAL_SANDBOX_CLIENT_ID": Payments.openIDClientId,
                    "SOCIAL_SANDBOX_CLIENT_SECRET": Payments.openIDClientSecret,
                    // The tests' webhook receivers are on this machine.
                    "INTEGRATION_WEBHOOK_ALLOW_PRIVATE": "1",
                ]) { _, new in new }
                async let integrationStarted = harness.start(
                    "integration", environment: integration.merging(integrationEnvironment) { _, new in new })
                _ = try await (sandboxStarted, integrationStarted)
                paymentsParts = Payments(
                    sandbox: "http://127.0.0.1:\(sandboxPort)", integration: "http://127.0.0.1:\(integrationPort)",
                    integrationEnvironment: integration.merging(integrationEnvironment) { _, new in new })
            }
            return AccountsPlatform(
                harness: harness, gateway: "http://127.0.0.1:\(port)", accountsEnvironment: accountsEnvironment,
                servicesEnvironment: serviceEnvironment, payments: paymentsParts, mail: mailParts)
        } catch {
            await harness.shutdown()
            throw error
        }
    }

    func shutdown() async { await harness.shutdown() }

    /// Starts one more gateway instance on the same bus; its base URL and its process.
    func startGateway(environment extra: [String: String] = [:]) async throws -> (url: String, process: PlatformProcess) {
        let port = try FreePort.next()
        let environment = harness.bus.merging(extra.merging(["GATEWAY_PORT": "\(port)"]) { _, new in new }) { _, new in new }
        return ("http://127.0.0.1:\(port)", try await harness.start("gateway", environment: environment))
    }

    /// Starts one more integration instance on the same bus and database; its base URL.
    func startIntegration() async throws -> String {
        let port = try FreePort.next()
        var environment = try #require(payments).integrationEnvironment
        environment["INTEGRATION_PORT"] = "\(port)"
        _ = try await harness.start("integration", environment: environment)
        return "http://127.0.0.1:\(port)"
    }

    /// Runs `body` with the whole platform started, and stops it before returning, whatever happened.
    static func with<T: Sendable>(
        gatewayEnvironment: [String: String] = [:], serviceEnvironment: [ServiceName: [String: String]] = [:],
        payments: Bool = false, mail: Bool = false, sandboxEnvironment: [String: String] = [:],
        integrationEnvironment: [String: String] = [:], _ body: (AccountsPlatform) async throws -> T
    ) async throws -> T {
        let platform = try await start(
            gatewayEnvironment: gatewayEnvironment, serviceEnvironment: serviceEnvironment, payments: payments, mail: mail,
            sandboxEnvironment: sandboxEnvironment, integrationEnvironment: integrationEnvironment)
        do {
            let result = try await body(platform)
            await platform.shutdown()
            return result
        } catch {
            await platform.shutdown()
            throw error
        }
    }

    /// Runs `accounts create-admin` against the platform's database: the first admin, made by a
    /// command of the platform rather than by a default password.
    func createAdmin(email: String, password: String) async throws {
        var environment = harness.bus.merging(accountsEnvironment) { _, new in new }
        environment["DATABASE_URL"] = harness.database.url
        environment["DATABASE_SCHEMA"] = "accounts"
        environment["ADMIN_PASSWORD"] = password
        let command = try PlatformProcess(
            "accounts", arguments: ["create-admin", "--email", email],
            environment: environment)
        defer { command.stop() }
        let status = try await command.waitForExit(timeout: .seconds(30))
        #expect(status == 0, "\(command.log())")
    }

    /// One request to the gateway; `json` is encoded as the body; the answer awaited `seconds` at most.
    func request(
        _ method: String, _ path: String, token: String? = nil, json: Any? = nil, body: Data? = nil,
        headers: [String: String] = [:], seconds: Int = 5
    ) async throws -> Reply {
        var headers = headers
        if let token { headers["Authorization"] = "Bearer \(token)" }
        var payload = body
        if let json {
            payload = try JSONSerialization.data(withJSONObject: json)
        }
        if payload != nil { headers["Content-Type"] = "application/json" }
        let answer = try #require(
            await HTTP.request(method, gateway + path, headers: headers, body: payload, seconds: seconds), "\(method) \(path)")
        return Reply(answer: answer)
    }

    /// Registers a member and returns their account id.
    @discardableResult
    func register(
        email: String, password: String = AccountsPlatform.password, displayName: String = "Member", role: String = "member",
        extra: [String: Any] = [:]
    ) async throws -> String {
        let policy = try await request("GET", "/v1/privacy/policy").object["version"] as? String
        var body: [String: Any] = [
            "email": email, "password": password, "displayName": displayName, "role": role,
            "acceptPolicyVersion": policy ?? "",
        ]
        body.merge(extra) { _, new in new }
        // Password hashing is the costly request: on a machine loaded with parallel platforms it may
        // answer 503 busy, or 504 when its deadline passed (perhaps after the account was made), and
        // a client tries again, as front ends do.
        var reply = try await request("POST", "/v1/accounts", json: body)
        for _ in 0..<5 where reply.status == 503 || reply.status == 504 {
            try await Task.sleep(for: .seconds(1))
            reply = try await request("POST", "/v1/accounts", json: body)
            if reply.code == "email_taken" {
                let session = try await request(
                    "POST", "/v1/sessions", json: ["email": email, "password": password], headers: ["User-Agent": "E2E/1.0"])
                return try #require((session.object["account"] as? [String: Any])?["id"] as? String, "\(session.text)")
            }
        }
        #expect(reply.status == 201, "\(reply.text)")
        return try #require(reply.object["id"] as? String, "\(reply.text)")
    }

    /// Signs in and returns the session token.
    func signIn(email: String, password: String = AccountsPlatform.password, userAgent: String = "E2E/1.0") async throws -> String {
        var reply = try await request(
            "POST", "/v1/sessions", json: ["email": email, "password": password], headers: ["User-Agent": userAgent])
        // Busy (503, with Retry-After) on a machine loaded with parallel platforms: tried again, as front ends do.
        for _ in 0..<5 where reply.status == 503 {
            try await Task.sleep(for: .seconds(1))
            reply = try await request("POST", "/v1/sessions", json: ["email": email, "password": password], headers: ["User-Agent": userAgent])
        }
        #expect(reply.status == 201, "\(reply.text)")
        return try #require(reply.object["token"] as? String, "\(reply.text)")
    }

    /// A staff member with `role`, made by a first admin (made for it), signed in: their token.
    func staffMember(role: String) async throws -> String {
        let adminEmail = Self.email("admin")
        try await createAdmin(email: adminEmail, password: Self.password)
        let admin = try await signIn(email: adminEmail)
        let email = Self.email(role)
        let made = try await request(
            "POST", "/v1/staff/accounts", token: admin,
            json: ["email": email, "password": Self.password, "displayName": role.capitalized, "roles": [role]])
        #expect(made.status == 201, "\(made.text)")
        return try await signIn(email: email)
    }

    /// A unique email for one test, so tests never collide.
    static func email(_ name: String) -> String { "\(name)-\(UUID().uuidString.prefix(8).lowercased())@example.com" }

    static let password = "correct horse battery staple"
}

/// An answer from the gateway, with its JSON at hand.
struct Reply {
    let answer: HTTP.Answer
    var status: Int { answer.status }
    var headers: [String: String] { answer.headers }
    var text: String { String(decoding: answer.body, as: UTF8.self) }
    var object: [String: Any] { (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any] ?? [:] }
    var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }
    /// The problem's `code`, for error answers.
    var code: String? { object["code"] as? String }
}
