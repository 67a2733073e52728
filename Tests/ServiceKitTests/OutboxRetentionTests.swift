import Bus
import Foundation
import Logging
import Models
@testable import ServiceKit
import Store
import Synchronization
import Testing
import TestSupport

/// The outbox is pruned behind every consuming service that has acknowledged its progress, and
/// otherwise only after the retention period; consumers start at, or stop at, what is left.
@Suite("Outbox retention", .timeLimit(.minutes(1)))
struct OutboxRetentionTests {
    static let producer = ServiceName("producer")
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A producer serving replays and acknowledgements over a real broker, with its outbox in
    /// schema `producer` of a fresh database, and a consumer factory for other schemas.
    final class Fixture: Sendable {
        let testDatabase: TestDatabase
        let producerDatabase: Database
        let context: BusContext
        let broker: Broker
        let worker: ServiceWorker
        let mdp: MDPClient
        let bus: BusClient
        private let opened = Mutex<[Database]>([])

        init(testDatabase: TestDatabase) async throws {
            self.testDatabase = testDatabase
            producerDatabase = try await Self.database(testDatabase, schema: "producer")
            context = BusContext(logger: logger)
            broker = Broker(
                context: context, endpoints: .init(mdp: "tcp://127.0.0.1:*", eventsIn: "tcp://127.0.0.1:*", eventsOut: "tcp://127.0.0.1:*"),
                curve: nil, logger: logger)
            try await broker.start()
            worker = ServiceWorker(
                context: context, endpoint: broker.endpoints.mdp, service: producer, instanceId: "p1", curve: nil, logger: logger)
            EventReplay.register(on: worker, producer: producer, database: producerDatabase)
            mdp = MDPClient(context: context, endpoint: broker.endpoints.mdp, curve: nil, logger: logger)
            bus = BusClient(mdp: mdp, logger: logger)
            Task { [worker] in try await worker.run() }
            try await Eventually.wait(timeout: .seconds(10), "the producer registered") { [bus] in
                (try? await bus.hasWorkers(producer.rawValue)) == true
            }
        }

        static func database(_ testDatabase: TestDatabase, schema: String) async throws -> Database {
            let database = Database(DatabaseConfig(url: testDatabase.url, poolSize: 2, schema: schema), logger: logger)
            let admin = Database(DatabaseConfig(url: testDatabase.url, poolSize: 1), logger: logger)
            _ = try await admin.withConnection { try $0.execute("CREATE SCHEMA \(schema)") }
            await admin.close()
            try await database.migrate(PlatformTables.migrations, table: PlatformTables.migrationTable)
            return database
        }

        /// A consuming service with its own schema; `applied` records the sequence numbers it applied.
        func consumer(_ name: String, applied: Applied) async throws -> (EventConsumer, Database) {
            let database = try await Self.database(testDatabase, schema: name)
            opened.withLock { $0.append(database) }
            let subscription = EventSubscription(producer: producer).on(type: "thing.v1") { _, metadata, _ in
                applied.add(metadata.seq)
            }
            let subscriber = EventSubscriber(
                context: context, endpoint: broker.endpoints.eventsOut, prefixes: ["producer."], curve: nil, logger: logger)
            let consumer = EventConsumer(
                consumer: ServiceName(name), subscriptions: [subscription], subscriber: subscriber, database: database,
                bus: bus, acknowledgementInterval: .zero, logger: logger)
            return (consumer, database)
        }

        /// Writes and publishes `count` events; `age` backdates them.
        func publish(_ count: Int, age: Duration = .zero) async throws {
            try await producerDatabase.transaction { connection in
                for _ in 0..<count {
                    try Outbox.append(type: "thing.v1", payload: "{}", on: connection)
                }
                _ = try Outbox.stampPending(on: connection, producer: Self.producerName)
                try connection.execute(
                    "UPDATE outbox SET occurred_at = now() - make_interval(secs => $1) WHERE occurred_at > now() - interval '1 minute'",
                    Double(age.components.seconds))
            }
        }

        static let producerName = OutboxRetentionTests.producer.rawValue

        var keptSeqs: [Int64] {
            get async throws {
                try await producerDatabase.withConnection { connection in
                    try connection.query("SELECT seq FROM outbox ORDER BY seq").map { try $0.decode("seq", as: Int64.self) }
                }
            }
        }

        func prune() async throws -> Int {
            try await OutboxRetention.prune(producerDatabase, keeping: .seconds(3600))
        }

        func shutdown() async {
            await worker.stop()
            await mdp.close()
            await broker.stop()
            await context.shutdown()
            for database in opened.withLock({ $0 }) { await database.close() }
            await producerDatabase.close()
        }
    }

    func withFixture(_ body: (Fixture) async throws -> Void) async throws {
        try await withTestDatabase { testDatabase in
            let fixture = try await Fixture(testDatabase: testDatabase)
            do {
                try await body(fixture)
            } catch {
                await fixture.shutdown()
                throw error
            }
            await fixture.shutdown()
        }
    }

    @Test("events a consumer has no handler for are passed over in order, without a transaction each; a gap among them is still repaired by replay")
    func unhandledEventsPassedOver() async throws {
        try await withFixture { fixture in
            @Sendable func write(_ types: [String]) async throws {
                try await fixture.producerDatabase.transaction { connection in
                    for type in types { try Outbox.append(type: type, payload: "{}", on: connection) }
                    _ = try Outbox.stampPending(on: connection, producer: Fixture.producerName)
                }
            }
            try await write(["thing.v1", "other.v1", "other.v1", "thing.v1", "other.v1", "thing.v1"])
            let applied = Applied()
            let (consumer, database) = try await fixture.consumer("consumer_skip", applied: applied)
            try await consumer.catchUp(Fixture.producerName)
            #expect(applied.seqs == [1, 4, 6])

            func live(_ seqs: ClosedRange<Int64>, _ type: String = "other.v1") -> [(EventMetadata, Data)] {
                seqs.map { (EventMetadata(producer: Fixture.producerName, seq: $0, type: type, occurredAt: Date()), Data("{}".utf8)) }
            }
            @Sendable func stored() async throws -> Int64 {
                try await database.withConnection { try EventCursor.current(producer: Fixture.producerName, on: $0) }
            }
            // Events it has no handler for move it on without writing its cursor.
            try await write(["other.v1", "other.v1", "other.v1", "thing.v1"])
            #expect(try await consumer.apply(live(7...9)) == .applied)
            #expect(try await consumer.apply(live(7...9)) == .duplicate)
            #expect(try await stored() == 6)
            // The next handled event is applied after them, and the cursor written past them all.
            #expect(try await consumer.apply(live(10...10, "thing.v1")) == .applied)
            #expect(applied.seqs == [1, 4, 6, 10])
            #expect(try await stored() == 10)

            // Events 11 (handled) and 12 were lost on the way: 13 and 14 are not passed over.
            try await write(["thing.v1", "other.v1", "other.v1", "other.v1"])
            #expect(try await consumer.apply(live(13...14)) == .gap)
            try await consumer.catchUp(Fixture.producerName)
            #expect(applied.seqs == [1, 4, 6, 10, 11])
            #expect(try await stored() == 14)
        }
    }

    @Test("events go only once every known consumer applied them and they are older than the retention; the newest stays")
    func prunesBehindEveryConsumer() async throws {
        try await withFixture { fixture in
            try await fixture.publish(10, age: .seconds(7200))
            let appliedA = Applied()
            let (a, _) = try await fixture.consumer("consumer_a", applied: appliedA)
            try await a.catchUp(Fixture.producerName)
            #expect(appliedA.seqs == Array(1...10))

            // A known consumer that acknowledged 4 holds back everything after 4.
            await a.acknowledgeIfDue(Fixture.producerName, position: 4)
            #expect(try await fixture.prune() == 4)
            #expect(try await fixture.keptSeqs == Array(5...10))

            // Once it acknowledges everything, all but the newest go.
            await a.acknowledgeIfDue(Fixture.producerName, position: 10)
            #expect(try await fixture.prune() == 5)
            #expect(try await fixture.keptSeqs == [10])

            // Fresh events stay for the retention period, acknowledged or not; the relay numbers on
            // from the newest event kept.
            try await fixture.publish(2)
            await a.acknowledgeIfDue(Fixture.producerName, position: 12)
            #expect(try await fixture.prune() == 1)
            #expect(try await fixture.keptSeqs == [11, 12])
        }
    }

    @Test("a new consumer starts at the oldest event kept; one whose position was pruned stops at the gap")
    func consumersMeetTheHorizon() async throws {
        try await withFixture { fixture in
            try await fixture.publish(10, age: .seconds(7200))
            #expect(try await fixture.prune() == 9, "no consumer known: only the retention holds events")
            try await fixture.publish(2)

            let appliedNew = Applied()
            let (fresh, freshDatabase) = try await fixture.consumer("consumer_new", applied: appliedNew)
            try await fresh.catchUp(Fixture.producerName)
            #expect(appliedNew.seqs == [10, 11, 12])
            #expect(try await freshDatabase.withConnection { try EventCursor.current(producer: Fixture.producerName, on: $0) } == 12)

            let appliedOld = Applied()
            let (restored, restoredDatabase) = try await fixture.consumer("consumer_restored", applied: appliedOld)
            try await restoredDatabase.transaction { try EventCursor.advance(producer: Fixture.producerName, to: 3, on: $0) }
            try await restored.catchUp(Fixture.producerName)
            #expect(appliedOld.seqs.isEmpty)
            #expect(try await restoredDatabase.withConnection { try EventCursor.current(producer: Fixture.producerName, on: $0) } == 3)
        }
    }

    @Test("only the platform acknowledges, and never past the last event published")
    func acknowledgementsAreChecked() async throws {
        try await withFixture { fixture in
            try await fixture.publish(3)
            let operation = Events.Acknowledge.name(for: OutboxRetentionTests.producer)
            let forbidden = await #expect(throws: ServiceError.self) {
                let _: Empty = try await fixture.bus.call(
                    service: OutboxRetentionTests.producer, operation: operation,
                    request: Events.Acknowledge.Request(consumer: "chat", seq: 3), responseType: Empty.self,
                    as: .anonymous, idempotent: true, timeout: .seconds(2))
            }
            #expect(forbidden?.code == .forbidden)
            let future = await #expect(throws: ServiceError.self) {
                let _: Empty = try await fixture.bus.call(
                    service: OutboxRetentionTests.producer, operation: operation,
                    request: Events.Acknowledge.Request(consumer: "chat", seq: 4), responseType: Empty.self,
                    as: .system, idempotent: true, timeout: .seconds(2))
            }
            #expect(future?.code == .validationFailed)
        }
    }
}

/// The sequence numbers a consumer's handler applied.
final class Applied: Sendable {
    private let list = Mutex<[Int64]>([])
    func add(_ seq: Int64) { list.withLock { $0.append(seq) } }
    var seqs: [Int64] { list.withLock { $0 } }
}
