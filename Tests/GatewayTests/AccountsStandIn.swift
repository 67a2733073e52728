import Bus
import Foundation
import GatewayService
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Models
import ServiceKit
import Synchronization
import Testing
import TestSupport

/// A broker on free ports, a stand-in accounts worker (a test double at the bus boundary) and the
/// gateway's router in front of them: what the gateway forwards, and what it makes of the answers.
final class GatewayFixture: Sendable {
    static let member = UUID()
    static let goodToken = "good-token"
    static let currentPolicy = "2026-01"

    let context: BusContext
    let endpoints: BusEndpoints
    let broker: Broker
    let mdp: MDPClient
    let bus: BusClient
    let accounts: AccountsStandIn
    private let workers = Mutex<[ServiceWorker]>([])

    init() async throws {
        let logger = Logger(label: "test.gateway")
        context = BusContext(logger: logger)
        let environment = try FreePort.busEnvironment()
        endpoints = BusEndpoints(
            mdp: environment["BROKER_ENDPOINT"]!, eventsIn: environment["EVENTS_IN_ENDPOINT"]!,
            eventsOut: environment["EVENTS_OUT_ENDPOINT"]!)
        broker = Broker(context: context, endpoints: endpoints, curve: nil, logger: logger)
        try await broker.start()
        mdp = MDPClient(context: context, endpoint: endpoints.mdp, curve: nil, logger: logger)
        bus = BusClient(mdp: mdp, logger: logger)
        accounts = AccountsStandIn()
    }

    /// Starts a worker for `service` with the handlers `register` adds, and waits until the broker has it.
    func startWorker(_ service: ServiceName, _ register: (ServiceWorker) -> Void) async throws {
        let worker = ServiceWorker(
            context: context, endpoint: endpoints.mdp, service: service, instanceId: UUID().uuidString, curve: nil,
            logger: Logger(label: "test.worker"))
        register(worker)
        workers.withLock { $0.append(worker) }
        Task { try await worker.run() }
        let bus = self.bus
        try await Eventually.wait(timeout: .seconds(10), "\(service) is registered") {
            (try? await bus.hasWorkers(service.rawValue)) == true
        }
    }

    /// Starts the stand-in accounts worker.
    func startAccounts() async throws {
        let accounts = self.accounts
        try await startWorker(.accounts) { accounts.register(on: $0) }
    }

    /// Runs `test` against the gateway's router (on a real socket with `.live`), then stops everything.
    func test(
        exportDeadline: Duration = .seconds(5), trustedProxies: TrustedProxies = .none,
        mode: TestingSetup = .router, _ test: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let app = Application(
            router: buildGatewayRouter(bus: bus, exportDeadline: exportDeadline, trustedProxies: trustedProxies))
        do {
            try await app.test(mode, test)
        } catch {
            await shutdown()
            throw error
        }
        await shutdown()
    }

    private func shutdown() async {
        for worker in workers.withLock({ $0 }) { await worker.stop() }
        await mdp.close()
        await broker.stop()
        await context.shutdown()
    }
}

/// Answers the accounts operations the gateway calls, and remembers what it was sent.
final class AccountsStandIn: Sendable {
    private struct State {
        var validTokens: Set<String> = [GatewayFixture.goodToken]
        var acceptedPolicy = GatewayFixture.currentPolicy
        var callers: [String: Caller] = [:]
        var traces: [String: String] = [:]
        var pages: [String: PageRequest] = [:]
        var signIns: [Accounts.SignIn.Request] = []
        var profileChanges: [Accounts.UpdateProfile.Request] = []
        var authentications = 0
    }

    private let state = Mutex(State())

    /// The caller the last `operation` call was made for.
    func caller(of operation: String) -> Caller? { state.withLock { $0.callers[operation] } }
    /// The trace id the last `operation` call was served under.
    func traceId(of operation: String) -> String? { state.withLock { $0.traces[operation] } }
    /// The page the last `operation` call asked for.
    func page(of operation: String) -> PageRequest? { state.withLock { $0.pages[operation] } }
    var signIns: [Accounts.SignIn.Request] { state.withLock { $0.signIns } }
    var profileChanges: [Accounts.UpdateProfile.Request] { state.withLock { $0.profileChanges } }
    var authentications: Int { state.withLock { $0.authentications } }

    /// A newer policy than the one the member accepted comes into force.
    func publishNewerPolicy() { state.withLock { $0.acceptedPolicy = "2025-06" } }
    /// The token stops working without the gateway hearing of it (another gateway signed it out).
    func revokeElsewhere(_ token: String) { _ = state.withLock { $0.validTokens.remove(token) } }

    static let account = Accounts.Account(
        id: GatewayFixture.member, email: "ada@example.com", displayName: "Ada", role: "member", roles: ["member"],
        country: "GB", phone: nil, source: nil, createdAt: Date(timeIntervalSince1970: 1_700_000_000),
        policyVersion: GatewayFixture.currentPolicy)

    private func record(_ operation: String, _ context: Bus.RequestContext, page: PageRequest? = nil) {
        state.withLock {
            $0.callers[operation] = context.caller
            $0.traces[operation] = context.trace.traceId
            if let page { $0.pages[operation] = page }
        }
    }

    private func requireMember(_ context: Bus.RequestContext) throws {
        guard context.caller.accountId == GatewayFixture.member else {
            throw ServiceError(.unauthenticated, "no caller")
        }
    }

    func register(on worker: ServiceWorker) {
        worker.handle(Accounts.Authenticate.self) { request, context in
            try self.state.withLock { state in
                state.authentications += 1
                state.traces[Accounts.Authenticate.name] = context.trace.traceId
                guard state.validTokens.contains(request.token) else {
                    throw ServiceError(.unauthenticated, "unknown token")
                }
                return .init(
                    accountId: GatewayFixture.member, roles: ["member"], expiresAt: Date().addingTimeInterval(3600),
                    acceptedPolicyVersion: state.acceptedPolicy, currentPolicyVersion: GatewayFixture.currentPolicy)
            }
        }
        worker.handle(Accounts.SignIn.self) { request, context in
            self.state.withLock { $0.signIns.append(request) }
            if request.password == "too-many-tries" {
                throw ServiceError(.rateLimited, "slow down", retryAfterSeconds: 30)
            }
            guard request.password == "correct horse" else {
                throw ServiceError(.init(rawValue: "invalid_credentials"), "wrong email or password")
            }
            return .init(token: GatewayFixture.goodToken, expiresAt: Date().addingTimeInterval(3600), account: Self.account)
        }
        worker.handle(Accounts.SignOut.self) { request, context in
            self.record(Accounts.SignOut.name, context)
            _ = self.state.withLock { $0.validTokens.remove(request.token) }
            return Empty()
        }
        worker.handle(Accounts.Me.self) { _, context in
            self.record(Accounts.Me.name, context)
            try self.requireMember(context)
            return Self.account
        }
        worker.handle(Accounts.UpdateProfile.self) { request, context in
            self.state.withLock { $0.profileChanges.append(request) }
            try self.requireMember(context)
            return Self.account
        }
        worker.handle(Accounts.ConsentHistory.self) { request, context in
            self.record(Accounts.ConsentHistory.name, context, page: request)
            return Page(items: [], nextCursor: nil)
        }
        worker.handle(Accounts.AcceptPolicy.self) { request, context in
            self.record(Accounts.AcceptPolicy.name, context)
            guard request.version == GatewayFixture.currentPolicy else {
                throw ServiceError(
                    .validationFailed, "not the current version",
                    fieldErrors: [FieldError(field: "version", code: "not_current")])
            }
            self.state.withLock { $0.acceptedPolicy = request.version }
            return Empty()
        }
        worker.handle(
            operation: Privacy.Export.name(for: .accounts), requestType: Privacy.Export.Request.self
        ) { request, context in
            self.record(Privacy.Export.name(for: .accounts), context)
            return Privacy.Export.Response(section: .object(["email": .string("ada@example.com")]))
        }
    }
}

/// Decoding answers in tests.
enum Body {
    /// The problem document of an error answer; nil when the body is not one.
    static func problem(_ response: TestResponse) -> Problem? {
        try? JSONDecoder().decode(Problem.self, from: Data(response.body.readableBytesView))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try WireCoding.decoder().decode(type, from: Data(response.body.readableBytesView))
    }

    static func json(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// What a JSON body is sent with (anything else is 415).
    static let jsonType: HTTPFields = [.contentType: "application/json"]
}
