public import Bus
import CoreMetrics
import Foundation
public import Logging
public import Models
public import ServiceLifecycle
public import Store

/// Publishes a service's outbox: the leader among its instances (holder of a session advisory
/// lock) stamps new rows with the next dense sequence numbers and publishes them in that order,
/// and announces its last sequence every second so consumers notice a lost tail.
///
/// Sequence numbers are stamped at publish time, not insert time: a row whose transaction commits
/// late is simply stamped later, so consumers never see a number skipped for good.
public final class EventRelay: Service {
    private let producer: ServiceName
    private let database: DatabaseConfig
    private let publisher: EventPublisher
    private let logger: Logger
    private let heartbeatInterval: Duration
    private let published: Counter

    public init(
        producer: ServiceName, database: DatabaseConfig, publisher: EventPublisher, logger: Logger,
        heartbeatInterval: Duration = .seconds(1)
    ) {
        self.producer = producer
        self.database = database
        self.publisher = publisher
        self.logger = logger
        self.heartbeatInterval = heartbeatInterval
        self.published = Counter(label: "events_published_total", dimensions: [("producer", producer.rawValue)])
    }

    /// The advisory lock key that elects one relay per producer; stable across releases.
    var leaderLockKey: Int64 {
        // FNV-1a over the producer name, so every instance derives the same key.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "event-relay:\(producer.rawValue)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: hash)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.leadWhenElected()
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.warning("event relay restarts", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Waits to become leader, then relays until the connection fails or the task is cancelled.
    private func leadWhenElected() async throws {
        let connection = DedicatedConnection(database, logger: logger)
        defer { Task { await connection.close() } }
        let key = leaderLockKey
        while try await !connection.run({ try $0.queryOne("SELECT pg_try_advisory_lock($1) AS won", key)?.decode("won", as: Bool.self) ?? false }) {
            try await Task.sleep(for: .seconds(2))
        }
        logger.info("event relay leads", metadata: ["bus.producer": "\(producer)"])
        _ = try await connection.run { try Outbox.listen(on: $0) }
        var lastSeq = try await connection.run { try Outbox.lastSeq(on: $0) }
        let clock = ContinuousClock()
        var nextHeartbeat = clock.now
        let encoder = WireCoding.encoder()
        while !Task.isCancelled {
            let batch = try await connection.run { [producer] connection in
                try connection.execute("BEGIN")
                do {
                    let events = try Outbox.stampPending(on: connection, producer: producer.rawValue)
                    try connection.execute("COMMIT")
                    return events
                } catch {
                    _ = try? connection.execute("ROLLBACK")
                    throw error
                }
            }
            var messages = try batch.map { try Self.frames(for: $0, encoder: encoder) }
            lastSeq = batch.last?.metadata.seq ?? lastSeq
            if clock.now >= nextHeartbeat {
                messages.append([Data(Events.heartbeatTopic(for: producer.rawValue).utf8), Data(String(lastSeq).utf8)])
                nextHeartbeat = clock.now.advanced(by: heartbeatInterval)
            }
            if !messages.isEmpty { try await publisher.publish(all: messages) }
            published.increment(by: batch.count)
            if batch.isEmpty {
                _ = try await connection.waitForNotifications(timeout: clock.now.duration(to: nextHeartbeat))
            }
        }
    }

    /// An event on the wire: topic (its type), metadata JSON, payload JSON.
    static func frames(for event: Events.StoredEvent, encoder: JSONEncoder) throws -> [Data] {
        [
            Data(event.metadata.type.utf8),
            try encoder.encode(event.metadata),
            Data(event.payload.utf8),
        ]
    }
}
