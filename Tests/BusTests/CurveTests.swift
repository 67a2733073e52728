import Bus
import Foundation
import Logging
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
            try BrokerCurve(keyPair: pair, allowedClientKeys: [other.publicKey, String(repeating: " ", count: 40)])
        }
    }

    @Test("only clients whose key is on the allow-list get answers")
    func allowList() async throws {
        let server = CurveKeyPair.generate()
        let trusted = CurveKeyPair.generate()
        let stranger = CurveKeyPair.generate()
        let logs = LogCapture()
        let fixture = try await BrokerFixture.start(
            curve: try BrokerCurve(keyPair: server, allowedClientKeys: [trusted.publicKey]), logger: logs.logger())
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

    @Test("a broker without keys says it runs in the clear")
    func clearTextWarning() async throws {
        let logs = LogCapture()
        let fixture = try await BrokerFixture.start(logger: logs.logger())
        #expect(logs.all.contains { $0.level == .warning && $0.message == "bus runs without CURVE: local development only" })
        await fixture.shutdown()
    }
}
