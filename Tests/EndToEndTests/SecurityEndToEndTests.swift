import Bus
import Foundation
import Logging
import Models
import Store
import Synchronization
import Testing
import TestSupport

/// The bus admits only known CURVE keys; each service's database role reaches only its schema.
@Suite(.timeLimit(.minutes(2)))
struct SecurityEndToEndTests {
    @Test("with CURVE, a listed key is served, an unlisted or missing key is refused, and a key registers only as its own process (integration: the providers it fronts)")
    func curveRefusesUnknownKeys() async throws {
        let broker = CurveKeyPair.generate()
        let service = CurveKeyPair.generate()
        let tester = CurveKeyPair.generate()
        let stranger = CurveKeyPair.generate()
        let integration = CurveKeyPair.generate()
        try await PlatformHarness.with(
            schemas: ["accounts"], curve: try ClientCurve(keyPair: tester, serverPublicKey: broker.publicKey)) { harness in
            try await harness.startBroker(environment: [
                "BUS_CURVE_PUBLIC_KEY": broker.publicKey, "BUS_CURVE_SECRET_KEY": broker.secretKey,
                "BUS_CURVE_PEERS":
                    "accounts=\(service.publicKey),platform=\(tester.publicKey),integration=\(integration.publicKey)",
            ])
            try await harness.startService("accounts", schema: "accounts", environment: [
                "BUS_CURVE_PUBLIC_KEY": service.publicKey, "BUS_CURVE_SECRET_KEY": service.secretKey,
                "BUS_CURVE_SERVER_KEY": broker.publicKey,
            ])
            let info = try await harness.client.call(
                service: .accounts, operation: Platform.Info.name(for: .accounts), request: Empty(),
                responseType: Platform.Info.self, as: .system, idempotent: true, timeout: .seconds(5))
            #expect(info.service == "accounts")

            for curve in [try ClientCurve(keyPair: stranger, serverPublicKey: broker.publicKey), nil] {
                let mdp = MDPClient(context: harness.context, endpoint: harness.bus["BROKER_ENDPOINT"]!, curve: curve, logger: Logger(label: "test"))
                let outsider = BusClient(mdp: mdp, logger: Logger(label: "test"))
                await #expect(throws: ServiceError.self) {
                    _ = try await outsider.call(
                        service: .accounts, operation: Platform.Info.name(for: .accounts), request: Empty(),
                        responseType: Platform.Info.self, as: .system, idempotent: false, timeout: .seconds(1))
                }
                await mdp.close()
            }

            // The integration service's key, admitted to the bus, cannot pose as accounts: its
            // READY is refused, so no sign-in (with its password) is ever handed to it.
            let impostor = MDPWorker(
                context: harness.context, endpoint: harness.bus["BROKER_ENDPOINT"]!, service: "accounts", instanceId: "impostor",
                slots: 1, curve: try ClientCurve(keyPair: integration, serverPublicKey: broker.publicKey),
                logger: Logger(label: "test"))
            let seen = Counted()
            let running = Task { try await impostor.run { body in seen.add(); return body } }
            for _ in 0..<10 {
                _ = try await harness.client.call(
                    service: .accounts, operation: Platform.Info.name(for: .accounts), request: Empty(),
                    responseType: Platform.Info.self, as: .system, idempotent: true, timeout: .seconds(5))
            }
            #expect(await impostor.isRegistered() == false)
            #expect(seen.count == 0)
            await impostor.stop()
            try await running.value

            // The providers it fronts are its own to serve.
            for provider in [ServiceName.payments, .sms, .identity] {
                let worker = MDPWorker(
                    context: harness.context, endpoint: harness.bus["BROKER_ENDPOINT"]!, service: provider.rawValue,
                    instanceId: "integration-\(provider.rawValue)", slots: 1,
                    curve: try ClientCurve(keyPair: integration, serverPublicKey: broker.publicKey), logger: Logger(label: "test"))
                let serving = Task { try await worker.run { $0 } }
                try await eventually("integration serves \(provider.rawValue)") { await worker.isRegistered() }
                await worker.stop()
                try await serving.value
            }
        }
    }

    @Test("db-provision gives each service a role that reaches its own schema and nothing else")
    func rolesReachOnlyTheirSchema() async throws {
        try await withTestDatabase { database in
            var environment = ["DATABASE_ADMIN_URL": database.url]
            for owner in ServiceName.all.map(\.rawValue) + ["integration"] {
                environment["DB_PASSWORD_\(owner.uppercased())"] = "pw-\(owner)-0123456789abcdef"
            }
            for _ in 0..<2 {  // running it again changes nothing and fails nothing
                let provision = try PlatformProcess("platform", arguments: ["db-provision"], environment: environment)
                defer { provision.stop() }
                #expect(try await provision.waitForExit() == 0, "\(provision.log())")
            }

            func connect(as role: String) throws -> Database {
                var components = try #require(URLComponents(string: database.url))
                components.user = role
                components.password = "pw-\(role)-0123456789abcdef"
                return Database(DatabaseConfig(url: components.string!, poolSize: 1), logger: Logger(label: "test"))
            }
            let accounts = try connect(as: "accounts")
            let chat = try connect(as: "chat")
            let integration = try connect(as: "integration")
            _ = try await accounts.withConnection { try $0.execute("CREATE TABLE accounts.secrets (value text)") }
            _ = try await accounts.withConnection { try $0.execute("INSERT INTO secrets VALUES ('mine')") }
            await #expect(throws: StoreError.self) {
                try await chat.withConnection { _ = try $0.query("SELECT value FROM accounts.secrets") }
            }
            await #expect(throws: StoreError.self) {
                try await chat.withConnection { try $0.execute("CREATE TABLE public.leak (value text)") }
            }
            await #expect(throws: StoreError.self) {
                try await integration.withConnection { _ = try $0.query("SELECT value FROM accounts.secrets") }
            }
            _ = try await integration.withConnection { try $0.execute("CREATE TABLE integration.own (value text)") }
            await integration.close()
            await accounts.close()
            await chat.close()
        }
    }
}

/// Counts calls from any task.
private final class Counted: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
