import Bus
import Foundation
import Logging
import Synchronization
import Testing

@Suite("Event exchange")
struct EventTests {
    @Test("events flow publisher → broker → subscriber, filtered by topic prefix", arguments: [false, true])
    func prefixFiltering(curved: Bool) async throws {
        let server = CurveKeyPair.generate()
        let member = CurveKeyPair.generate()
        let fixture = try await BrokerFixture.start(
            curve: curved ? try BrokerCurve(keyPair: server, allowedClientKeys: [member.publicKey]) : nil)
        let curve = curved ? try ClientCurve(keyPair: member, serverPublicKey: server.publicKey) : nil
        let accounts = EventSubscriber(
            context: fixture.context, endpoint: fixture.endpoints.eventsOut, prefixes: ["accounts."], curve: curve,
            logger: quietLogger)
        let billing = EventSubscriber(
            context: fixture.context, endpoint: fixture.endpoints.eventsOut, prefixes: ["billing."], curve: curve,
            logger: quietLogger)
        let publisher = EventPublisher(
            context: fixture.context, endpoint: fixture.endpoints.eventsIn, curve: curve, logger: quietLogger)

        let seenByAccounts = Mutex<[[String]]>([])
        let seenByBilling = Mutex<[[String]]>([])
        let readers = [
            Task { for await event in accounts.messages { seenByAccounts.withLock { $0.append(event.map(\.text)) } } },
            Task { for await event in billing.messages { seenByBilling.withLock { $0.append(event.map(\.text)) } } },
        ]
        // PUB/SUB drops whatever is sent before subscriptions have travelled upstream, so keep
        // publishing until both subscribers have heard something.
        var sequence = 0
        try await eventually("both subscribers received events") {
            sequence += 1
            try await publisher.publish([Data("billing.charged.v1".utf8), Data("\(sequence)".utf8)])
            try await publisher.publish([Data("accounts.created.v1".utf8), Data("\(sequence)".utf8)])
            try await publisher.publish([Data("boards.posted.v1".utf8), Data("\(sequence)".utf8)])
            return seenByAccounts.withLock { $0.count } >= 3 && seenByBilling.withLock { $0.count } >= 3
        }
        #expect(seenByAccounts.withLock { $0 }.allSatisfy { $0.count == 2 && $0[0] == "accounts.created.v1" })
        #expect(seenByBilling.withLock { $0 }.allSatisfy { $0.count == 2 && $0[0] == "billing.charged.v1" })

        await accounts.close()
        await billing.close()
        for reader in readers { await reader.value }
        await publisher.close()
        await fixture.shutdown()
    }

    @Test("an event without a topic frame is refused")
    func emptyEvent() async throws {
        let fixture = try await BrokerFixture.start()
        let publisher = EventPublisher(
            context: fixture.context, endpoint: fixture.endpoints.eventsIn, curve: nil, logger: quietLogger)
        await #expect(throws: BusError.protocolViolation) { try await publisher.publish([]) }
        await publisher.close()
        await #expect(throws: BusError.closed) { try await publisher.publish([Data("x".utf8)]) }
        await fixture.shutdown()
    }
}
