import Bus
import Foundation
import Models
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Events written through the outbox are applied exactly once by a consumer, across crashes and
/// restarts of the consumer, the producer and the broker.
@Suite(.timeLimit(.minutes(3)))
struct EventsEndToEndTests {
    @Test("every event applied exactly once through consumer kill -9, producer and broker restarts")
    func exactlyOnce() async throws {
        try await PlatformHarness.with(schemas: ["fixture", "fixturesink"]) { harness in
            var broker = try await harness.startBroker()
            var producer = try await harness.startService("event-fixture", arguments: ["producer"], schema: "fixture")
            var consumer = try await harness.startService("event-fixture", arguments: ["consumer"], schema: "fixturesink")
            let label = UUID().uuidString

            func emit(_ count: Int) async throws {
                _ = try await harness.client.call(Emit.self, Emit.Request(count: count, label: label), as: .system)
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
}
