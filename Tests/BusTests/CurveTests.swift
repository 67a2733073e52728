@testable import Bus
import Foundation
import Logging
import Models
import Testing

@Suite("CURVE security")
struct CurveTests {
    @Test("a generated key pair survives validation; its description hides the secret key")
    func keyPairs() throws {
        let generated = CurveKeyPair.generate()
        #expect(generated.publicKey.utf8.count == 40)
        #expect(try CurveKeyPair(publicKey: generated.publicKey, secretKey: generated.secretKey) == generated)
        #expect(!"\(generated)".contains(generated.secretKey))
        #expect(!String(reflecting: generated).contains(generated.secretKey))
        #expect(generated != CurveKeyPair.generate())
    }

    @Test("malformed or mismatched keys are refused at configuration time")
    func invalidKeys() throws {
        let pair = CurveKeyPair.generate()
        let other = CurveKeyPair.generate()
        #expect(throws: BusError.invalidKey) { try CurveKeyPair(publicKey: other.publicKey, secretKey: pair.secretKey) }
        #expect(throws: BusError.invalidKey) {
            try CurveKeyPair(publicKey: String(pair.publicKey.dropLast()), secretKey: pair.secretKey)
        }
        #expect(throws: BusError.invalidKey) {
            try CurveKeyPair(publicKey: "~" + pair.publicKey.dropFirst(), secretKey: pair.secretKey)
        }
        #expect(throws: BusError.invalidKey) { try ClientCurve(keyPair: pair, serverPublicKey: "too short") }
        #expect(throws: BusError.invalidKey) {
            try BrokerCurve(
                keyPair: pair,
                peers: [
                    other.publicKey: BusPeerPolicy(identity: "a"), String(repeating: " ", count: 40): BusPeerPolicy(identity: "b"),
                ])
        }
    }

    @Test("only clients whose key is on the allow-list get answers")
    func allowList() async throws {
        let server = CurveKeyPair.generate()
        let trusted = CurveKeyPair.generate()
        let stranger = CurveKeyPair.generate()
        let logs = LogCapture()
        let fixture = try await BrokerFixture.start(
            curve: try BrokerCurve(keyPair: server, peers: [trusted.publicKey: BusPeerPolicy(identity: "vault", services: ["vault"])]),
            logger: logs.logger())
        let endpoint = fixture.endpoints.mdp
        let trustedCurve = try ClientCurve(keyPair: trusted, serverPublicKey: server.publicKey)

        let worker = MDPWorker(
            context: fixture.context, endpoint: endpoint, service: "vault", instanceId: "v1", slots: 1,
            curve: trustedCurve, heartbeat: testHeartbeat, logger: quietLogger)
        let running = launch(worker, echo(tag: "vault"))

        let friend = MDPClient(context: fixture.context, endpoint: endpoint, curve: trustedCurve, logger: quietLogger)
        let reply = try await friend.request(service: "vault", body: [Data("open".utf8)], timeout: .seconds(5))
        #expect(reply.map(\.text) == ["vault", "open"])

        let intruder = MDPClient(
            context: fixture.context, endpoint: endpoint,
            curve: try ClientCurve(keyPair: stranger, serverPublicKey: server.publicKey), logger: quietLogger)
        await #expect(throws: BusError.timeout) {
            try await intruder.request(service: "vault", body: [Data("open".utf8)], timeout: .milliseconds(500))
        }
        let denial = logs.all.first { $0.message.hasPrefix("bus CURVE client denied") }
        #expect(denial?.level == .warning)
        #expect(denial?.metadata["bus.peer.key"] == stranger.publicKey)

        let plain = MDPClient(context: fixture.context, endpoint: endpoint, curve: nil, logger: quietLogger)
        await #expect(throws: BusError.timeout) {
            try await plain.request(service: "vault", body: [Data("open".utf8)], timeout: .milliseconds(500))
        }
        #expect(!logs.all.contains { $0.message.contains("without CURVE") })

        await worker.stop()
        try await running.value
        await fixture.shutdown()
    }

    @Test("an admitted key registers only as the services its policy names; the others are refused and told DISCONNECT")
    func registrationPolicy() async throws {
        let logs = LogCapture()
        let broker = try await PolicyBroker.start(service: BusPeerPolicy(identity: "vault", services: ["vault"]), logger: logs.logger())
        let fixture = broker.fixture
        let vaultCurve = broker.serviceCurve
        let gatewayCurve = broker.gatewayCurve
        let impostor = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "vault", instanceId: "fake", slots: 1,
            curve: gatewayCurve, heartbeat: testHeartbeat, logger: quietLogger)
        let running = launch(impostor, echo(tag: "stolen"))
        try await eventually("the impostor's READY was refused") {
            logs.all.contains { $0.message.hasPrefix("bus broker refused a worker") && $0.metadata["bus.peer"] == "gateway" }
        }
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: gatewayCurve, logger: quietLogger)
        #expect(try await workerCount(client, "vault") == 0)
        #expect(await impostor.isRegistered() == false)
        // Nothing sent for the vault reaches the impostor.
        await #expect(throws: BusError.timeout) {
            try await client.request(service: "vault", body: [Data("secret".utf8)], timeout: .milliseconds(400))
        }
        await impostor.stop()
        try await running.value

        let genuine = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "vault", instanceId: "real", slots: 1,
            curve: vaultCurve, heartbeat: testHeartbeat, logger: quietLogger)
        let serving = launch(genuine, echo(tag: "vault"))
        let reply = try await client.request(service: "vault", body: [Data("open".utf8)], timeout: .seconds(5))
        #expect(reply.map(\.text) == ["vault", "open"])
        await genuine.stop()
        try await serving.value
        await client.close()
        await fixture.shutdown()
    }

    @Test("another admitted key cannot take over a registered worker's connection by using its identity")
    func identityTakeover() async throws {
        let logs = LogCapture()
        let broker = try await PolicyBroker.start(service: BusPeerPolicy(identity: "vault", services: ["vault"]), logger: logs.logger())
        let fixture = broker.fixture
        let gatewayKey = broker.gatewayKey
        let gatewayCurve = broker.gatewayCurve
        let genuine = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "vault", instanceId: "v1", slots: 1,
            curve: broker.serviceCurve, heartbeat: testHeartbeat,
            logger: quietLogger)
        let serving = launch(genuine, echo(tag: "vault"))
        try await eventually("the genuine worker registered") { await genuine.isRegistered() }

        let hijacker = try PythonPeer(
            "hijack.py",
            [fixture.endpoints.mdp, "v1/0", gatewayKey.publicKey, gatewayKey.secretKey, broker.serverKey])
        _ = try await hijacker.ready()
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: gatewayCurve, logger: quietLogger)
        for index in 0..<10 {
            let reply = try await client.request(service: "vault", body: [Data("secret \(index)".utf8)], timeout: .seconds(5))
            #expect(reply.first?.text == "vault")
        }
        try await hijacker.stop()
        #expect(!hijacker.lines.contains { $0.hasPrefix("GOT") }, "\(hijacker.lines)")
        await client.close()
        await genuine.stop()
        try await serving.value
        await fixture.shutdown()
    }

    @Test("workers learn the caller's process from the broker, whatever the header said; a system claim the key may not make is refused")
    func callerPolicy() async throws {
        let broker = try await PolicyBroker.start(service: BusPeerPolicy(identity: "vault", services: ["vault"], claimsSystem: true))
        let fixture = broker.fixture
        let vaultCurve = broker.serviceCurve
        let gatewayCurve = broker.gatewayCurve
        let worker = ServiceWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: Vault.service, instanceId: "v", slots: 2,
            curve: vaultCurve, heartbeat: testHeartbeat, logger: quietLogger)
        worker.handle(Vault.Who.self) { _, context in
            Vault.Who.Response(peer: context.peer, system: context.caller.has(.system))
        }
        let running = Task { try await worker.run() }
        let gatewayMDP = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: gatewayCurve, logger: quietLogger)
        let vaultMDP = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: vaultCurve, logger: quietLogger)
        let gateway = BusClient(mdp: gatewayMDP, logger: quietLogger)
        let vault = BusClient(mdp: vaultMDP, logger: quietLogger)
        try await eventually("the vault worker registered") { await worker.isRegistered() }

        #expect(try await gateway.call(Vault.Who.self, Empty(), as: .anonymous) == .init(peer: "gateway", system: false))
        let refused = await #expect(throws: ServiceError.self) { try await gateway.call(Vault.Who.self, Empty(), as: .system) }
        #expect(refused?.code == .forbidden)
        #expect(try await vault.call(Vault.Who.self, Empty(), as: .system) == .init(peer: "vault", system: true))

        // A header that names another process is overwritten with the sender's own.
        let forged = RequestHeader(
            operation: Vault.Who.name, requestId: "forged-peer", caller: .anonymous,
            deadline: Int64(Date().timeIntervalSince1970 * 1000) + 5000, peer: "vault")
        let reply = try await gatewayMDP.request(
            service: Vault.service.rawValue, body: [HeaderCoding.encode(forged), Data("{}".utf8)], timeout: .seconds(5))
        #expect(try WireCoding.decoder().decode(Vault.Who.Response.self, from: reply[1]).peer == "gateway")

        await worker.stop()
        try await running.value
        await gatewayMDP.close()
        await vaultMDP.close()
        await fixture.shutdown()
    }

    @Test("a broker without keys says it runs in the clear")
    func clearTextWarning() async throws {
        let logs = LogCapture()
        let fixture = try await BrokerFixture.start(logger: logs.logger())
        #expect(logs.all.contains { $0.level == .warning && $0.message == "bus runs without CURVE: local development only" })
        await fixture.shutdown()
    }
}

/// A pretend service whose one operation tells who the worker thinks is calling.
private enum Vault {
    static let service = ServiceName("vault")

    struct Who: BusOperation {
        typealias Request = Empty
        struct Response: Codable, Sendable, Equatable {
            var peer: String?
            var system: Bool
        }
        static let service = Vault.service
        static let name = "vault.who"
        static let timeout: Duration = .seconds(3)
    }
}
