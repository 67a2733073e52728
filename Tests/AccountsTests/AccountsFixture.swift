@testable import AccountsService
import Bus
import Foundation
import Logging
import Models
import PlatformSecurity
@testable import ServiceKit
import Store
import Testing
import TestSupport

/// One accounts service per test: a fresh database with the service's migrations, an in-process
/// broker on wildcard ports, the service's real handlers on a worker, and a client to call them.
struct AccountsFixture: Sendable {
    let database: Database
    let testDatabase: TestDatabase
    let settings: AccountsSettings
    let client: BusClient
    /// The erase and export hooks, as the service runner registers them.
    let privacy: PrivacyHooks

    static let quiet = Logger(label: "accounts-test") { _ in SwiftLogNoOpLogHandler() }

    /// A cheap scrypt, so tests do not spend their time hashing.
    static let fastHasher = PasswordHasher(parameters: try! .init(logN: 10, r: 8, p: 1))

    /// Fresh keys as the service reads them: a master key and the email index key.
    static func keyEnvironment(masterKeys: String? = nil) -> [String: String] {
        func random() -> String { Data((0..<32).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString() }
        return ["ACCOUNTS_DATA_KEY": masterKeys ?? "test-master:\(random())", "ACCOUNTS_EMAIL_INDEX_KEY": random()]
    }

    /// The settings `keys` make, with the platform's limits but for registrations (tests register
    /// many accounts from one address).
    static func settings(
        limits: AttemptLimits = AttemptLimits(registrationsPerAddress: .init(10_000, per: 3600)),
        keys: [String: String] = keyEnvironment()
    ) throws -> AccountsSettings {
        var reader = ConfigReader(environment: keys, dotEnvPath: nil)
        guard var settings = AccountsSettings.read(&reader) else { throw TestSupportError("the test keys are not valid") }
        settings.passwordHasher = fastHasher
        settings.attemptLimits = limits
        return settings
    }

    /// Runs `body` against a fresh accounts service, then stops it and drops its database. The
    /// service's keys are `keys` when given (for commands that must share them).
    static func with(
        settings: AccountsSettings? = nil, keys: [String: String]? = nil, _ body: @Sendable (AccountsFixture) async throws -> Void
    ) async throws {
        let settings = try settings ?? Self.settings(keys: keys ?? keyEnvironment())
        try await withTestDatabase(schema: "accounts") { testDatabase in
            let database = Database(testDatabase.config(poolSize: 4), logger: quiet)
            try await AccountsCommands.migrate(database, settings: settings)
            let context = BusContext(logger: quiet)
            let broker = Broker(
                context: context,
                endpoints: BusEndpoints(mdp: "tcp://127.0.0.1:*", eventsIn: "tcp://127.0.0.1:*", eventsOut: "tcp://127.0.0.1:*"),
                curve: nil, logger: quiet)
            try await broker.start()
            let worker = ServiceWorker(
                context: context, endpoint: broker.endpoints.mdp, service: .accounts, instanceId: "test", slots: 8,
                curve: nil, logger: quiet)
            let definition = AccountsService.definition(settings: settings)
            let bus = BusClient(
                mdp: MDPClient(context: context, endpoint: broker.endpoints.mdp, curve: nil, logger: quiet), logger: quiet)
            definition.register(worker, ServiceResources(database: database, bus: bus, streams: StreamPushes(publisher: nil, logger: quiet), logger: quiet))
            PrivacyHandlers.register(on: worker, service: .accounts, hooks: definition.privacy, database: database)
            let running = Task { try await worker.run() }
            let fixture = AccountsFixture(
                database: database, testDatabase: testDatabase, settings: settings, client: bus, privacy: definition.privacy)
            var failure: (any Error)?
            do {
                try await Eventually.wait(timeout: .seconds(10), "the accounts worker registered") {
                    try await bus.hasWorkers("accounts")
                }
                try await body(fixture)
            } catch {
                failure = error
            }
            await worker.stop()
            _ = await running.result
            await broker.stop()
            await context.shutdown()
            await database.close()
            if let failure { throw failure }
        }
    }

    /// Calls an accounts operation through the broker, as `caller`.
    func call<Op: BusOperation>(_ operation: Op.Type, _ request: Op.Request, as caller: Caller = .anonymous) async throws
        -> Op.Response
    {
        try await client.call(operation, request, as: caller)
    }

    /// The error a call fails with (the test fails when it succeeds).
    func failure<Op: BusOperation>(_ operation: Op.Type, _ request: Op.Request, as caller: Caller = .anonymous) async
        -> ServiceError?
    {
        do {
            _ = try await call(operation, request, as: caller)
            Issue.record("\(Op.name) succeeded but should have failed")
            return nil
        } catch let error as ServiceError {
            return error
        } catch {
            Issue.record("\(Op.name) failed with \(error), not a ServiceError")
            return nil
        }
    }

    /// The current policy version.
    func policy() async throws -> String {
        try await call(Accounts.CurrentPolicy.self, Empty()).version
    }

    /// Registers a member with a fresh email; returns the account.
    @discardableResult
    func register(
        email: String = "member-\(UUID().uuidString.prefix(8))@example.com", password: String = defaultPassword,
        displayName: String = "Ada Member", role: String = "member", marketing: Bool? = nil,
        referral: String? = nil, country: String? = "GB"
    ) async throws -> Accounts.Account {
        try await call(
            Accounts.Register.self,
            .init(
                email: email, password: password, displayName: displayName, role: role,
                acceptPolicyVersion: try await policy(), marketingEmailOptIn: marketing, referralCode: referral,
                country: country))
    }

    /// Signs in; returns the session.
    func signIn(_ email: String, _ password: String = defaultPassword, ip: String = "192.0.2.1") async throws
        -> Accounts.SignIn.Response
    {
        try await call(Accounts.SignIn.self, .init(email: email, password: password, ipAddress: ip, userAgent: "tests/1.0"))
    }

    /// The caller the gateway would forward for this session.
    func caller(_ token: String) async throws -> Caller {
        let who = try await call(Accounts.Authenticate.self, .init(token: token))
        return Caller(accountId: who.accountId, roles: Set(who.roles.map(Role.init(rawValue:))))
    }

    /// An admin made by the platform command, signed in.
    func admin() async throws -> Caller {
        let email = "admin-\(UUID().uuidString.prefix(8))@example.com"
        _ = try await AccountsCommands.createAdmin(
            email: email, password: Self.defaultPassword, force: true, database: database, settings: settings)
        return try await caller(try await signIn(email).token)
    }

    /// Runs SQL as the superuser, in the service's schema (for what only an operator could do).
    func asSuperuser<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let admin = Database(testDatabase.config(poolSize: 1), logger: Self.quiet)
        do {
            let value = try await admin.withConnection(body)
            await admin.close()
            return value
        } catch {
            await admin.close()
            throw error
        }
    }

    static let defaultPassword = "correct horse battery staple"
}
