import Bus
import Foundation
import Instrumentation
import Logging
import Models
import Synchronization
import Testing

/// Operations of a pretend two-hop service: `relay` calls `leaf` while serving.
private enum Tracer {
    static let service = ServiceName("tracer")

    struct Seen: Codable, Sendable, Equatable {
        var traceId: String
        var spanId: String
        var contextTraceId: String?
        var requestId: String
        var contextRequestId: String?
    }

    struct Leaf: BusOperation {
        typealias Request = Empty
        typealias Response = Seen
        static let service = Tracer.service
        static let name = "tracer.leaf"
    }

    struct Relay: BusOperation {
        typealias Request = Empty
        /// What the relay saw, then what the leaf it called saw.
        typealias Response = [Seen]
        static let service = Tracer.service
        static let name = "tracer.relay"
    }
}

@Suite("W3C trace context")
struct TraceContextTests {
    // Vectors from the specification (https://www.w3.org/TR/trace-context/#traceparent-header)
    // and its test suite (w3c/trace-context, test/test.py).
    static let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    @Test("a valid traceparent is read field by field and written back the same")
    func readsValid() throws {
        let context = try #require(TraceContext(traceparent: Self.valid))
        #expect(context.traceId == "0af7651916cd43dd8448eb211c80319c")
        #expect(context.spanId == "b7ad6b7169203331")
        #expect(context.flags == 1)
        #expect(context.traceparent == Self.valid)
        let unsampled = try #require(TraceContext(traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"))
        #expect(unsampled.flags == 0)
    }

    @Test(
        "whatever the specification says to ignore is refused",
        arguments: [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",  // short
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",  // version 00 with more after it
            "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  // upper case
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // all-zero trace id
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // all-zero parent id
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // forbidden version
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",  // not hex
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // wrong separator
            "0x-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // version not hex
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",  // flags not hex
            "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01what",  // future version, no dash after flags
        ])
    func refusesInvalid(_ value: String) {
        #expect(TraceContext(traceparent: value) == nil)
    }

    @Test("a future version is read by its first four fields; unknown flags are not passed on")
    func futureVersion() throws {
        let context = try #require(
            TraceContext(traceparent: "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09-what-the-future-holds"))
        #expect(context.traceId == "0af7651916cd43dd8448eb211c80319c")
        #expect(context.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    }

    @Test("a child keeps the trace and flags under a new span; a root is a new sampled trace")
    func childrenAndRoots() throws {
        let parent = try #require(TraceContext(traceparent: Self.valid))
        let children = (0..<1000).map { _ in parent.child() }
        #expect(children.allSatisfy { $0.traceId == parent.traceId && $0.flags == parent.flags })
        #expect(Set(children.map(\.spanId)).count == 1000)
        #expect(!children.contains { $0.spanId == parent.spanId })
        let roots = (0..<1000).map { _ in TraceContext.root() }
        #expect(Set(roots.map(\.traceId)).count == 1000)
        for root in roots.prefix(20) {
            // What it writes, it reads back.
            #expect(TraceContext(traceparent: root.traceparent) == root)
            #expect(root.flags == 1)
        }
    }

    @Test("a bus call carries the caller's trace to the handler and on to the calls the handler makes")
    func propagatesAcrossHops() async throws {
        let fixture = try await BrokerFixture.start()
        let worker = ServiceWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: Tracer.service, instanceId: "t1",
            slots: 4, curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        let mdp = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        let bus = BusClient(mdp: mdp, logger: quietLogger)
        @Sendable func seen(_ context: RequestContext) -> Tracer.Seen {
            Tracer.Seen(
                traceId: context.trace.traceId, spanId: context.trace.spanId,
                contextTraceId: ServiceContext.current?.traceContext?.traceId, requestId: context.requestId,
                contextRequestId: ServiceContext.current?.requestId)
        }
        worker.handle(Tracer.Leaf.self) { _, context in seen(context) }
        worker.handle(Tracer.Relay.self) { _, context in
            [seen(context), try await bus.call(Tracer.Leaf.self, Empty(), as: .system)]
        }
        let running = Task { try await worker.run() }
        defer { running.cancel() }

        let origin = TraceContext.root()
        let hops = try await ServiceContext.withValue(.serving(requestId: "http-1", trace: origin)) {
            try await bus.call(Tracer.Relay.self, Empty(), as: .anonymous)
        }
        #expect(hops.count == 2)
        for hop in hops {
            #expect(hop.traceId == origin.traceId)
            #expect(hop.contextTraceId == origin.traceId)
            // Each hop serves its own bus call, under the call's id.
            #expect(hop.contextRequestId == hop.requestId)
        }
        #expect(Set(hops.map(\.spanId) + [origin.spanId]).count == 3)
        #expect(hops[0].requestId != hops[1].requestId)

        // A call from outside any trace starts one at the worker.
        let untraced = try await bus.call(Tracer.Leaf.self, Empty(), as: .anonymous)
        #expect(untraced.traceId != origin.traceId && untraced.traceId.count == 32)
        #expect(untraced.contextTraceId == untraced.traceId)

        await worker.stop()
        try await running.value
        await mdp.close()
        await fixture.shutdown()
    }
}
