import Bus
import Foundation
import Logging
import Models
import Synchronization
import Testing

@Suite("Event exchange")
struct EventTests {
    @Test("events flow publisher → broker → subscriber, filtered by topic prefix")
    func prefixFiltering() async throws {
        let fixture = try await BrokerFixture.start()
        let curve: ClientCurve? = nil
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

    @Test("mmi.stream tells whether someone subscribes to a person's push topic: two subscribers, then one, then none, also when one just goes away")
    func streamConnections() async throws {
        let fixture = try await BrokerFixture.start()
        let mdp = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        let bus = BusClient(mdp: mdp, logger: quietLogger)
        let person = UUID()
        let topic = StreamTopic.topic(for: person)
        #expect(try await bus.hasStreamConnection(person) == false)
        func subscriber() -> EventSubscriber {
            EventSubscriber(context: fixture.context, endpoint: fixture.endpoints.eventsOut, prefixes: [topic], curve: nil, logger: quietLogger)
        }
        let first = subscriber()
        let second = subscriber()
        try await eventually("the broker knows the person is connected") { try await bus.hasStreamConnection(person) }
        #expect(try await bus.hasStreamConnection(UUID()) == false, "nobody else is")
        first.unsubscribe(topic)
        // The other gateway still holds a connection: a moment later it is still so.
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await bus.hasStreamConnection(person))
        await second.close()
        try await eventually("the last subscriber gone, the person is not connected") { try await bus.hasStreamConnection(person) == false }
        await first.close()
        await mdp.close()
        await fixture.shutdown()
    }

    @Test("with CURVE the exchange forwards only events in the sender's own producer name; forged ones reach no subscriber")
    func forgedEventsDropped() async throws {
        let logs = LogCapture()
        let broker = try await PolicyBroker.start(
            service: BusPeerPolicy(identity: "accounts", services: ["accounts"], producer: "accounts"), logger: logs.logger())
        let fixture = broker.fixture
        let accountsCurve = broker.serviceCurve
        let gatewayCurve = broker.gatewayCurve
        let subscriber = EventSubscriber(
            context: fixture.context, endpoint: fixture.endpoints.eventsOut, prefixes: ["accounts.", "billing."],
            curve: accountsCurve, logger: quietLogger)
        let accounts = EventPublisher(
            context: fixture.context, endpoint: fixture.endpoints.eventsIn, curve: accountsCurve, logger: quietLogger)
        let gateway = EventPublisher(
            context: fixture.context, endpoint: fixture.endpoints.eventsIn, curve: gatewayCurve, logger: quietLogger)
        func event(_ type: String, producer: String, seq: Int) -> [Data] {
            [Data(type.utf8), Data(#"{"occurredAt":"2026-12-02T00:00:00Z","producer":"\#(producer)","seq":\#(seq),"type":"\#(type)"}"#.utf8), Data("{}".utf8)]
        }
        let seen = Mutex<[String]>([])
        let reader = Task {
            for await message in subscriber.messages {
                seen.withLock { $0.append(message.count == 3 ? message[1].text : message.map(\.text).joined(separator: " ")) }
            }
        }
        var seq = 0
        try await eventually("the genuine events arrived and the gateway's forgery was refused") {
            seq += 1
            // Forged: another producer's topic, another producer in the metadata, a key with no producer.
            try await accounts.publish(event("billing.charged.v1", producer: "billing", seq: seq))
            try await accounts.publish(event("accounts.erasure-requested.v1", producer: "billing", seq: seq))
            try await gateway.publish(event("accounts.erasure-requested.v1", producer: "accounts", seq: seq))
            try await gateway.publish([Data("accounts._heartbeat".utf8), Data("99".utf8)])
            // Genuine: an event and a tail heartbeat of accounts, from accounts' key.
            try await accounts.publish(event("accounts.account-created.v1", producer: "accounts", seq: seq))
            try await accounts.publish([Data("accounts._heartbeat".utf8), Data("\(seq)".utf8)])
            let denied = logs.all.filter { $0.message == "bus broker dropped an event its sender may not publish" }
            return seen.withLock { $0.count } >= 4 && denied.contains { $0.metadata["bus.peer"] == "gateway" }
        }
        reader.cancel()
        let messages = seen.withLock { $0 }
        #expect(!messages.contains { $0.contains("billing") }, "\(messages)")
        #expect(!messages.contains { $0 == "accounts._heartbeat 99" })
        #expect(messages.allSatisfy { $0.contains(#""producer":"accounts""#) || $0.hasPrefix("accounts._heartbeat") })
        await accounts.close()
        await gateway.close()
        await subscriber.close()
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
