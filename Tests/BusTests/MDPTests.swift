@testable import Bus
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@Suite("MDP broker, client and worker")
struct MDPTests {
    @Test(
        "200 concurrent calls through the broker are all answered with their own reply, spinning or not",
        arguments: [Duration.zero, .microseconds(200)])
    func concurrentRoundTrips(spin: Duration) async throws {
        let fixture = try await BrokerFixture.start(spin: spin)
        let worker = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "echo", instanceId: "w1",
            curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        let running = launch(worker, echo(tag: "w1"))
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)

        let replies = try await withThrowingTaskGroup(of: (Int, [Data]).self) { group in
            for index in 0..<200 {
                group.addTask {
                    let body = [Data("call \(index)".utf8), Data([UInt8(index % 256)])]
                    return (index, try await client.request(service: "echo", body: body, timeout: .seconds(10)))
                }
            }
            return try await group.reduce(into: [Int: [Data]]()) { $0[$1.0] = $1.1 }
        }
        #expect(replies.count == 200)
        for (index, reply) in replies {
            #expect(reply == [Data("w1".utf8), Data("call \(index)".utf8), Data([UInt8(index % 256)])])
        }
        await worker.stop()
        try await running.value
        await client.close()
        await fixture.shutdown()
    }

    @Test("calls beyond the client's sockets wait their turn, counted as waiting, and are all answered")
    func callsWaitForASocket() async throws {
        let fixture = try await BrokerFixture.start()
        let worker = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "gated", instanceId: "g", slots: 3,
            curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        let gate = Gate()
        let running = launch(worker) { body in
            await gate.wait()
            return body
        }
        let client = MDPClient(
            context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, maxSockets: 2, logger: quietLogger)
        let calls = Task {
            try await withThrowingTaskGroup(of: [Data].self) { group in
                for index in 0..<5 {
                    group.addTask { try await client.request(service: "gated", body: [Data("\(index)".utf8)], timeout: .seconds(10)) }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1[0].text) }
            }
        }
        // Two calls hold the two sockets; the other three wait for one.
        try await eventually("three calls waiting") { await client.backlog().waiting == 3 }
        gate.open()
        #expect(try await calls.value == ["0", "1", "2", "3", "4"])
        #expect(await client.backlog().waiting == 0)

        await worker.stop()
        try await running.value
        await client.close()
        await fixture.shutdown()
    }

    @Test("two workers of one service share the load")
    func loadSharing() async throws {
        let fixture = try await BrokerFixture.start()
        let first = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "share", instanceId: "a", slots: 1,
            curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        let second = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "share", instanceId: "b", slots: 1,
            curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        let slow: @Sendable (String) -> @Sendable ([Data]) async -> [Data] = { tag in
            { _ in
                try? await Task.sleep(for: .milliseconds(5))
                return [Data(tag.utf8)]
            }
        }
        let runs = [launch(first, slow("a")), launch(second, slow("b"))]
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        try await eventually("both workers registered") { try await workerCount(client, "share") == 2 }

        let tags = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<40 {
                group.addTask { try await client.request(service: "share", body: [], timeout: .seconds(5))[0].text }
            }
            return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(tags["a", default: 0] > 0)
        #expect(tags["b", default: 0] > 0)
        #expect(tags.values.reduce(0, +) == 40)

        await first.stop()
        await second.stop()
        for run in runs { try await run.value }
        await client.close()
        await fixture.shutdown()
    }

    @Test("mmi.service answers 200, 404 and 501; mmi.workers counts instances and slots")
    func mmi() async throws {
        let fixture = try await BrokerFixture.start()
        let endpoint = fixture.endpoints.mdp
        let workers = [
            MDPWorker(
                context: fixture.context, endpoint: endpoint, service: "counted", instanceId: "i1", slots: 3,
                curve: nil, heartbeat: testHeartbeat, logger: quietLogger),
            MDPWorker(
                context: fixture.context, endpoint: endpoint, service: "counted", instanceId: "i2", slots: 2,
                curve: nil, heartbeat: testHeartbeat, logger: quietLogger),
        ]
        let runs = workers.map { launch($0, echo(tag: "x")) }
        let client = MDPClient(context: fixture.context, endpoint: endpoint, curve: nil, logger: quietLogger)
        try await eventually("five slots registered") { try await workerCount(client, "counted") == 5 }

        let status = try await client.request(service: "mmi.workers", body: [Data("counted".utf8)], timeout: .seconds(2))
        let json = try JSONSerialization.jsonObject(with: try #require(status.first)) as? [String: Int]
        #expect(json == ["instances": 2, "workers": 5])

        let present = try await client.request(service: "mmi.service", body: [Data("counted".utf8)], timeout: .seconds(2))
        #expect(present.map(\.text) == ["200"])
        let absent = try await client.request(service: "mmi.service", body: [Data("nobody".utf8)], timeout: .seconds(2))
        #expect(absent.map(\.text) == ["404"])
        let unknown = try await client.request(service: "mmi.frobnicate", body: [Data("counted".utf8)], timeout: .seconds(2))
        #expect(unknown.map(\.text) == ["501"])

        let snapshot = await fixture.broker.snapshot()
        #expect(snapshot["counted"] == Broker.ServiceStatus(instances: 2, workers: 5, queuedRequests: 0))

        for worker in workers { await worker.stop() }
        for run in runs { try await run.value }
        await client.close()
        await fixture.shutdown()
    }

    @Test("a stopping worker says DISCONNECT, so the broker drops it at once")
    func stopSaysDisconnect() async throws {
        // Heartbeats so slow that only a DISCONNECT can explain a quick drop.
        let slow = Heartbeat(interval: .seconds(30), liveness: 3)
        let fixture = try await BrokerFixture.start(heartbeat: slow)
        let endpoint = fixture.endpoints.mdp
        let staying = MDPWorker(
            context: fixture.context, endpoint: endpoint, service: "leaving", instanceId: "stay", slots: 2,
            curve: nil, heartbeat: slow, logger: quietLogger)
        let leaving = MDPWorker(
            context: fixture.context, endpoint: endpoint, service: "leaving", instanceId: "go", slots: 2,
            curve: nil, heartbeat: slow, logger: quietLogger)
        let runs = [launch(staying, echo(tag: "stay")), launch(leaving, echo(tag: "go"))]
        let client = MDPClient(context: fixture.context, endpoint: endpoint, curve: nil, logger: quietLogger)
        try await eventually("four slots registered") { try await workerCount(client, "leaving") == 4 }

        let started = ContinuousClock.now
        await leaving.stop()
        try await runs[1].value
        try await eventually(timeout: .seconds(2), "the stopped worker dropped") {
            try await workerCount(client, "leaving") == 2
        }
        #expect(ContinuousClock.now - started < .seconds(2))

        await staying.stop()
        try await runs[0].value
        await client.close()
        await fixture.shutdown()
    }

    @Test("a worker knows it is registered as soon as the broker has taken its READY, not before")
    func registrationIsAcknowledged() async throws {
        // Heartbeats so slow that only the broker's heartbeat on registering can tell the worker.
        let slow = Heartbeat(interval: .seconds(30), liveness: 3)
        let endpoints = BusEndpoints(
            mdp: "tcp://127.0.0.1:\(try FreePort.next())", eventsIn: "tcp://127.0.0.1:*", eventsOut: "tcp://127.0.0.1:*")
        let workerContext = BusContext(logger: quietLogger)
        let worker = MDPWorker(
            context: workerContext, endpoint: endpoints.mdp, service: "ack", instanceId: "w", slots: 2, curve: nil,
            heartbeat: slow, logger: quietLogger)
        #expect(await !worker.isRegistered())
        let running = launch(worker, echo(tag: "w"))
        // Running, its READY waiting in the socket for a broker that is not there yet.
        try await Task.sleep(for: .milliseconds(200))
        #expect(await !worker.isRegistered())

        let brokerContext = BusContext(logger: quietLogger)
        let broker = Broker(context: brokerContext, endpoints: endpoints, curve: nil, heartbeat: slow, logger: quietLogger)
        try await broker.start()
        let started = ContinuousClock.now
        try await eventually(timeout: .seconds(5), "the worker registered") { await worker.isRegistered() }
        #expect(ContinuousClock.now - started < .seconds(3))

        await worker.stop()
        try await running.value
        #expect(await !worker.isRegistered())
        await broker.stop()
        await brokerContext.shutdown()
        await workerContext.shutdown()
    }

    @Test("a worker whose broker went away no longer reports itself registered")
    func registrationEndsWithTheBroker() async throws {
        let fixture = try await BrokerFixture.start(heartbeat: fastHeartbeat)
        let workerContext = BusContext(logger: quietLogger)
        let worker = MDPWorker(
            context: workerContext, endpoint: fixture.endpoints.mdp, service: "ack", instanceId: "w", slots: 2,
            curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        let running = launch(worker, echo(tag: "w"))
        try await eventually("the worker registered") { await worker.isRegistered() }

        await fixture.shutdown()
        // Five silent heartbeat intervals of 100 ms, then its slots reconnect, unacknowledged.
        try await eventually("the worker noticed the broker left") { await !worker.isRegistered() }

        await worker.stop()
        try await running.value
        await workerContext.shutdown()
    }

    @Test("after a broker restart on the same endpoint, workers re-register (and know it) and calls succeed")
    func brokerRestart() async throws {
        let context = BusContext(logger: quietLogger)
        let first = Broker(
            context: context, endpoints: wildcardEndpoints, curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        try await first.start()
        let endpoints = first.endpoints
        let workerContext = BusContext(logger: quietLogger)
        let worker = MDPWorker(
            context: workerContext, endpoint: endpoints.mdp, service: "phoenix", instanceId: "w", slots: 2,
            curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        let running = launch(worker, echo(tag: "w"))
        let client = MDPClient(context: workerContext, endpoint: endpoints.mdp, curve: nil, logger: quietLogger)
        #expect(try await client.request(service: "phoenix", body: [], timeout: .seconds(5)) == [Data("w".utf8)])

        await first.stop()
        let second = Broker(
            context: context, endpoints: endpoints, curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        try await second.start()
        #expect(second.endpoints == endpoints)

        // A few heartbeats at most: 100 ms each.
        let restarted = ContinuousClock.now
        var answered = false
        while !answered && ContinuousClock.now - restarted < .seconds(3) {
            answered = (try? await client.request(service: "phoenix", body: [], timeout: .milliseconds(300))) != nil
        }
        #expect(answered)
        #expect(ContinuousClock.now - restarted < .seconds(2))
        #expect(await worker.isRegistered())

        await worker.stop()
        try await running.value
        await client.close()
        await second.stop()
        await workerContext.shutdown()
        await context.shutdown()
    }

    @Test("a second broker cannot bind a port that is taken")
    func portTaken() async throws {
        let fixture = try await BrokerFixture.start()
        let rival = Broker(
            context: fixture.context, endpoints: BusEndpoints(mdp: fixture.endpoints.mdp, eventsIn: "tcp://127.0.0.1:*", eventsOut: "tcp://127.0.0.1:*"),
            curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        await #expect(throws: BusError.addressInUse) { try await rival.start() }
        await fixture.shutdown()
    }

    @Test("a request to a service nobody serves times out")
    func noWorkerTimesOut() async throws {
        let fixture = try await BrokerFixture.start()
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        await #expect(throws: BusError.timeout) {
            try await client.request(service: "void", body: [Data("x".utf8)], timeout: .milliseconds(200))
        }
        await client.close()
        await fixture.shutdown()
    }
}

@Suite("MDP client sockets")
struct MDPClientSocketTests {
    @Test("a reply that comes after its call timed out is never taken for the next call's answer")
    func lateReplyIsDiscarded() async throws {
        let fixture = try await BrokerFixture.start()
        let worker = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "laggard", instanceId: "l", slots: 2,
            curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        let running = launch(worker) { body in
            if body.first?.text == "slow" { try? await Task.sleep(for: .milliseconds(300)) }
            return body
        }
        // One socket at most, so a reused socket would have to carry the late reply.
        let client = MDPClient(
            context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, maxSockets: 1, logger: quietLogger)
        await #expect(throws: BusError.timeout) {
            try await client.request(service: "laggard", body: [Data("slow".utf8)], timeout: .milliseconds(100))
        }
        for index in 0..<5 {
            let reply = try await client.request(service: "laggard", body: [Data("fast \(index)".utf8)], timeout: .seconds(2))
            #expect(reply.map(\.text) == ["fast \(index)"])
        }
        await worker.stop()
        try await running.value
        await client.close()
        await fixture.shutdown()
    }

    @Test("a cancelled call ends at once with CancellationError")
    func cancellation() async throws {
        let fixture = try await BrokerFixture.start()
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        let call = Task { try await client.request(service: "nobody", body: [], timeout: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(20))
        call.cancel()
        let started = ContinuousClock.now
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(ContinuousClock.now - started < .seconds(1))
        await client.close()
        await fixture.shutdown()
    }

    @Test("calls after close, or after the context shut down, fail with closed")
    func closed() async throws {
        let fixture = try await BrokerFixture.start()
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        await client.close()
        await #expect(throws: BusError.closed) { try await client.request(service: "x", body: [], timeout: .seconds(1)) }
        let other = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        let pending = Task { try await other.request(service: "nobody", body: [], timeout: .seconds(30)) }
        try await eventually("the call is queued at the broker") {
            (await fixture.broker.snapshot())["nobody"]?.queuedRequests == 1
        }
        await fixture.shutdown()
        await #expect(throws: BusError.closed) { try await pending.value }
        await #expect(throws: BusError.closed) { try await other.request(service: "x", body: [], timeout: .seconds(1)) }
    }
}

@Suite("MDP worker on threads of its own")
struct WorkerThreadTests {
    @Test("a worker with threads of its own serves each slot on its thread, handlers too, before and after they wait")
    func ownThreads() async throws {
        let fixture = try await BrokerFixture.start()
        let threads = ThreadRecord()
        let worker = threads.worker(fixture, slots: 3)
        let running = launch(worker) { body in
            let arrivedOn = pthread_self()
            // The sleep's timer resumes the task from another thread; it must come back here.
            try? await Task.sleep(for: .milliseconds(1))
            let answeredOn = pthread_self()
            return [Data(threads.isWorkerThread(arrivedOn) && arrivedOn == answeredOn ? "same".utf8 : "moved".utf8)] + body
        }
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        try await eventually("three slots registered") { try await workerCount(client, "own") == 3 }
        #expect(threads.counts == (started: 3, ended: 0))

        let replies = try await withThrowingTaskGroup(of: [Data].self) { group in
            for index in 0..<60 {
                group.addTask { try await client.request(service: "own", body: [Data("\(index)".utf8)], timeout: .seconds(10)) }
            }
            return try await group.reduce(into: [[Data]]()) { $0.append($1) }
        }
        #expect(replies.count == 60)
        #expect(replies.allSatisfy { $0.first == Data("same".utf8) })
        #expect(Set(replies.map { $0[1].text }) == Set((0..<60).map(String.init)))

        await worker.stop()
        try await running.value
        #expect(threads.counts == (started: 3, ended: 3))
        await client.close()
        await fixture.shutdown()
    }

    @Test("a context shut down under a worker with threads of its own ends the worker's run with closed")
    func ownThreadsContextShutdown() async throws {
        let fixture = try await BrokerFixture.start()
        let threads = ThreadRecord()
        let worker = threads.worker(fixture, slots: 2)
        let running = launch(worker, echo(tag: "o"))
        try await eventually("registered") { await worker.isRegistered() }
        await fixture.shutdown()
        await #expect(throws: BusError.closed) { try await running.value }
        #expect(threads.counts == (started: 2, ended: 2))
    }
}

/// Which threads a worker's `WorkerThreads` hooks ran on.
private final class ThreadRecord: Sendable {
    private struct State {
        var threads: Set<UInt> = []
        var ended = 0
    }

    private let state = Mutex(State())

    func started() { state.withLock { _ = $0.threads.insert(pthread_self()) } }
    func ended() { state.withLock { $0.ended += 1 } }
    func isWorkerThread(_ thread: pthread_t) -> Bool { state.withLock { $0.threads.contains(thread) } }
    var counts: (started: Int, ended: Int) { state.withLock { ($0.threads.count, $0.ended) } }

    /// A worker for the service "own" whose threads this records.
    func worker(_ fixture: BrokerFixture, slots: Int) -> MDPWorker {
        MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "own", instanceId: "o", slots: slots,
            curve: nil, heartbeat: testHeartbeat,
            threads: WorkerThreads(starting: { self.started() }, ending: { self.ended() }), logger: quietLogger)
    }
}

@Suite("MDP broker under trouble")
struct MDPTroubleTests {
    @Test("a worker dropped by the broker while serving still gets its late reply to the caller")
    func lateReplyOfDroppedWorker() async throws {
        // The broker gives up on silent workers after 300 ms; this worker heartbeats every 5 s,
        // so it is dropped while its 2 s handler runs (long enough to see, even on a loaded machine).
        let impatient = Heartbeat(interval: .milliseconds(100), liveness: 3)
        let fixture = try await BrokerFixture.start(heartbeat: impatient)
        let client = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
        // The request waits at the broker first, so that it goes out with the worker's READY: a
        // worker this silent would otherwise be dropped before a request reached it.
        async let reply = client.request(service: "sluggish", body: [Data("patience".utf8)], timeout: .seconds(10))
        try await eventually("the request queued") { (await fixture.broker.snapshot())["sluggish"]?.queuedRequests == 1 }
        let worker = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "sluggish", instanceId: "s", slots: 1,
            curve: nil, heartbeat: Heartbeat(interval: .seconds(5), liveness: 3), logger: quietLogger)
        let running = launch(worker) { body in
            try? await Task.sleep(for: .seconds(2))
            return body
        }
        try await eventually("the request went to the worker") {
            (await fixture.broker.snapshot())["sluggish"]?.queuedRequests == 0
        }
        try await eventually("the broker dropped the busy worker") {
            (await fixture.broker.snapshot())["sluggish"]?.workers ?? 0 == 0
        }
        #expect(try await reply.map(\.text) == ["patience"])

        await worker.stop()
        try await running.value
        await client.close()
        await fixture.shutdown()
    }
}
