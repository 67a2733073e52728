import Bus
import Foundation
import Logging
import Models
import Store
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Events written through the outbox are applied exactly once by a consumer, across crashes and
/// restarts of the consumer, the producer and the broker.
@Suite(.timeLimit(.minutes(3)))
struct EventsEndToEndTests {
    @Test("every event applied exactly once through consumer kill -9, producer and broker restarts, among events it has no handler for")
    func exactlyOnce() async throws {
        try await PlatformHarness.with(schemas: ["fixture", "fixturesink"]) { harness in
            var broker = try await harness.startBroker()
            var producer = try await harness.startService("event-fixture", arguments: ["producer"], schema: "fixture")
            var consumer = try await harness.startService("event-fixture", arguments: ["consumer"], schema: "fixturesink")
            let label = UUID().uuidString

            func emit(_ count: Int) async throws {
                // Two events of a type the consumer skips before each it applies.
                _ = try await harness.client.call(Emit.self, Emit.Request(count: count, label: label, noise: 2), as: .system)
            }
            @Sendable func received() async throws -> CountReceived.Response {
                try await harness.client.call(CountReceived.self, CountReceived.Request(label: label), as: .system)
            }

            try await emit(100)
            // The consumer dies mid-stream, while the producer keeps writing.
            consumer.signal(SIGKILL)
            try await consumer.waitForExit()
            try await emit(100)
            consumer = try await harness.startService("event-fixture", arguments: ["consumer"], schema: "fixturesink")

            // The producer crashes with events in its outbox, and comes back.
            producer.signal(SIGKILL)
            try await producer.waitForExit()
            producer = try await harness.startService("event-fixture", arguments: ["producer"], schema: "fixture")
            try await emit(50)

            // The broker crashes: events published meanwhile are lost on the wire, and must be replayed.
            broker.signal(SIGKILL)
            try await broker.waitForExit()
            broker = try await harness.startBroker()
            try await emit(50)

            do {
                try await Eventually.wait(timeout: .seconds(30), "all 300 events applied") {
                    (try? await received().rows) ?? 0 >= 300
                }
            } catch {
                Issue.record("\(error)\n\(harness.logs())")
                return
            }
            let counts = try await received()
            #expect(counts.rows == 300, "no event applied twice")
            #expect(counts.distinct == 100, "every one of the numbers 1…100 arrived")

            // The consumer told the producer how far it got (at its first heartbeat after the
            // restarts, then as it moves on), so the producer may prune behind it.
            let producerTables = Database(
                DatabaseConfig(url: harness.database.url, poolSize: 1, schema: "fixture"), logger: Logger(label: "test"))
            defer { Task { await producerTables.close() } }
            try await Eventually.wait(timeout: .seconds(45), "the consumer acknowledged every event") {
                let acknowledged = try await producerTables.withConnection { connection in
                    try connection.queryOne("SELECT last_seq FROM event_consumers WHERE consumer = 'fixturesink'")?
                        .decode("last_seq", as: Int64.self)
                }
                return acknowledged == 900
            }
            _ = (broker, producer)
        }
    }

    @Test("two consumer instances apply each event once between them")
    func competingConsumers() async throws {
        try await PlatformHarness.with(schemas: ["fixture", "fixturesink"]) { harness in
            try await harness.startBroker()
            try await harness.startService("event-fixture", arguments: ["producer"], schema: "fixture")
            try await harness.startService("event-fixture", arguments: ["consumer"], schema: "fixturesink")
            try await harness.startService("event-fixture", arguments: ["consumer"], schema: "fixturesink")
            let label = UUID().uuidString
            _ = try await harness.client.call(Emit.self, Emit.Request(count: 200, label: label), as: .system)
            try await Eventually.wait(timeout: .seconds(20), "200 events applied") {
                let counts = try? await harness.client.call(CountReceived.self, CountReceived.Request(label: label), as: .system)
                return (counts?.rows ?? 0) >= 200
            }
            let counts = try await harness.client.call(CountReceived.self, CountReceived.Request(label: label), as: .system)
            #expect(counts.rows == 200)
            #expect(counts.distinct == 200)
        }
    }

    @Test("an event its handler cannot apply holds its producer's stream, visibly, until a fixed release applies it")
    func eventThatCannotBeApplied() async throws {
        try await PlatformHarness.with(schemas: ["fixture", "fixturesink"]) { harness in
            try await harness.startBroker()
            try await harness.startService("event-fixture", arguments: ["producer"], schema: "fixture")
            let poison = UUID().uuidString
            let after = UUID().uuidString
            var consumer = try await harness.startService(
                "event-fixture", arguments: ["consumer"], schema: "fixturesink", environment: ["FIXTURE_REFUSE_LABEL": poison])
            @Sendable func received(_ label: String) async throws -> Int {
                try await harness.client.call(CountReceived.self, CountReceived.Request(label: label), as: .system).rows
            }
            @Sendable func metric(_ name: String, of process: PlatformProcess) async -> Double? {
                guard let answer = await HTTP.get("http://127.0.0.1:\(process.adminPort)/metrics") else { return nil }
                let line = String(decoding: answer.body, as: UTF8.self).split(separator: "\n")
                    .first { $0.hasPrefix("\(name){producer=\"fixture\"} ") }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") }
            }

            _ = try await harness.client.call(Emit.self, Emit.Request(count: 3, label: poison), as: .system)
            _ = try await harness.client.call(Emit.self, Emit.Request(count: 5, label: after), as: .system)
            // Heartbeats every second retry the replay; the stream stays at the first refused event.
            let stuck = consumer
            // The lag is measured at a heartbeat's catch-up, which may be the first failure when the live events were missed.
            try await Eventually.wait(timeout: .seconds(15), "the consumer reports 8 events behind, after failing again") {
                let lag = await metric("events_consumer_lag", of: stuck)
                let failures = await metric("events_apply_failures_total", of: stuck) ?? 0
                return lag == 8 && failures >= 2
            }
            #expect(try await received(poison) == 0)
            #expect(try await received(after) == 0, "no event overtakes the one that failed")

            // The fixed release applies everything, in order, once.
            consumer.signal(SIGTERM)
            #expect(try await consumer.waitForExit() == 0)
            consumer = try await harness.startService("event-fixture", arguments: ["consumer"], schema: "fixturesink")
            try await Eventually.wait(timeout: .seconds(15), "every event applied") {
                (try? await received(after)) == 5
            }
            #expect(try await received(poison) == 3)
            let fixed = consumer
            try await Eventually.wait(timeout: .seconds(10), "the lag back to zero") {
                await metric("events_consumer_lag", of: fixed) == 0
            }
        }
    }
}
