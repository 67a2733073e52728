import Bus
import Foundation
import Logging
import Models
import Testing

/// Our broker, client and worker against independent Python peers (Tests/Interop), every way round.
@Suite("Interoperability with third-party MDP peers")
struct InteropTests {
    private let heartbeatMilliseconds = "250"

    @Test("our broker serves Python REQ and DEALER clients with our worker")
    func pythonClientsOurBrokerOurWorker() async throws {
        let fixture = try await BrokerFixture.start(heartbeat: fastHeartbeat)
        let worker = MDPWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: "echo", instanceId: "swift",
            curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        let running = launch(worker, echo(tag: "swift"))

        let req = try await PythonPeer.run("mdp_client.py", ["req", fixture.endpoints.mdp, "echo", "5"])
        #expect(req.status == 0)
        #expect(req.replies == (0..<5).map { "REPLY \($0) swift|request \($0)" })

        let dealer = try await PythonPeer.run("mdp_client.py", ["dealer", fixture.endpoints.mdp, "echo", "20"])
        #expect(dealer.status == 0)
        #expect(dealer.replies == (0..<20).map { "REPLY \($0) swift|request \($0)" })

        await worker.stop()
        try await running.value
        await fixture.shutdown()
    }

    @Test("our broker hands our client's and Python clients' requests to a Python worker, and answers their mmi.service")
    func pythonWorkerOurBroker() async throws {
        let fixture = try await BrokerFixture.start(heartbeat: fastHeartbeat)
        let endpoint = fixture.endpoints.mdp
        let worker = try PythonPeer("mdp_worker.py", [endpoint, "pyecho", "python", heartbeatMilliseconds])
        _ = try await worker.ready()
        let client = MDPClient(context: fixture.context, endpoint: endpoint, curve: nil, logger: quietLogger)
        try await eventually("the Python worker registered") { try await workerCount(client, "pyecho") == 1 }

        let reply = try await client.request(service: "pyecho", body: [Data("hi".utf8), Data()], timeout: .seconds(5))
        #expect(reply.map(\.text) == ["python", "hi", ""])

        let dealer = try await PythonPeer.run("mdp_client.py", ["dealer", endpoint, "pyecho", "10"])
        #expect(dealer.status == 0)
        #expect(dealer.replies == (0..<10).map { "REPLY \($0) python|request \($0)" })

        let known = try await PythonPeer.run("mdp_client.py", ["req", endpoint, "mmi.service", "pyecho"])
        #expect(known.replies == ["REPLY 0 200"])
        let unknown = try await PythonPeer.run("mdp_client.py", ["req", endpoint, "mmi.service", "nobody"])
        #expect(unknown.replies == ["REPLY 0 404"])

        // The Python worker says DISCONNECT when told to stop: the broker forgets it at once.
        try await worker.stop()
        try await eventually("the Python worker unregistered") { try await workerCount(client, "pyecho") == 0 }
        await client.close()
        await fixture.shutdown()
    }

    @Test("a Python broker serves our client with our worker (which knows it is registered), typed calls and heartbeats included")
    func ourPeersPythonBroker() async throws {
        let broker = try PythonPeer("mdp_broker.py", ["tcp://127.0.0.1:*", heartbeatMilliseconds])
        let endpoint = try await broker.ready()
        let context = BusContext(logger: quietLogger)
        let logs = LogCapture()
        let worker = ServiceWorker(
            context: context, endpoint: endpoint, service: Greeter.service, instanceId: "swift", slots: 2, curve: nil,
            heartbeat: fastHeartbeat, logger: logs.logger())
        worker.handle(Greeter.Hello.self) { request, context in
            .init(greeting: "hello, \(request.name)", worker: "swift", requestId: context.requestId)
        }
        let running = Task { try await worker.run() }
        let bus = BusClient(
            mdp: MDPClient(context: context, endpoint: endpoint, curve: nil, logger: quietLogger), logger: quietLogger)

        try await eventually("our worker registered with the Python broker") { try await bus.hasWorkers("greeter") }
        #expect(try await bus.hasWorkers("nobody") == false)
        // A broker that does not heartbeat on READY still tells the worker within an interval.
        try await eventually("our worker knows it is registered") { await worker.isRegistered() }
        // Calls keep succeeding for many heartbeat intervals: each side's heartbeats satisfy the
        // other, so neither expires the worker nor does the worker reconnect.
        let started = ContinuousClock.now
        for _ in 0..<10 {
            let response = try await bus.call(Greeter.Hello.self, .init(name: "Py"), as: .anonymous)
            #expect(response.greeting == "hello, Py")
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(ContinuousClock.now - started > .milliseconds(500), "the calls spanned several heartbeat intervals")
        #expect(!logs.all.contains { $0.message.contains("reconnecting") || $0.message.contains("DISCONNECT") })

        await worker.stop()
        try await running.value
        await context.shutdown()
        try await broker.stop()
    }

    @Test("a Python broker connects a Python client to our worker and our client to a Python worker")
    func mixedPeersPythonBroker() async throws {
        let broker = try PythonPeer("mdp_broker.py", ["tcp://127.0.0.1:*", heartbeatMilliseconds])
        let endpoint = try await broker.ready()
        let context = BusContext(logger: quietLogger)
        let ourWorker = MDPWorker(
            context: context, endpoint: endpoint, service: "swiftecho", instanceId: "swift", slots: 2, curve: nil,
            heartbeat: fastHeartbeat, logger: quietLogger)
        let running = launch(ourWorker, echo(tag: "swift"))
        let pythonWorker = try PythonPeer("mdp_worker.py", [endpoint, "pyecho", "python", heartbeatMilliseconds])
        _ = try await pythonWorker.ready()

        let fromPython = try await PythonPeer.run("mdp_client.py", ["req", endpoint, "swiftecho", "5"])
        #expect(fromPython.status == 0)
        #expect(fromPython.replies == (0..<5).map { "REPLY \($0) swift|request \($0)" })

        let client = MDPClient(context: context, endpoint: endpoint, curve: nil, logger: quietLogger)
        let reply = try await client.request(service: "pyecho", body: [Data("from swift".utf8)], timeout: .seconds(5))
        #expect(reply.map(\.text) == ["python", "from swift"])

        await ourWorker.stop()
        try await running.value
        try await pythonWorker.stop()
        await context.shutdown()
        try await broker.stop()
    }

    @Test("a Python worker re-registers when our broker restarts on the same endpoint")
    func pythonWorkerSurvivesBrokerRestart() async throws {
        let context = BusContext(logger: quietLogger)
        let first = Broker(
            context: context, endpoints: wildcardEndpoints, curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        try await first.start()
        let endpoints = first.endpoints
        let worker = try PythonPeer("mdp_worker.py", [endpoints.mdp, "pyecho", "python", heartbeatMilliseconds])
        _ = try await worker.ready()
        let client = MDPClient(context: context, endpoint: endpoints.mdp, curve: nil, logger: quietLogger)
        #expect(try await client.request(service: "pyecho", body: [], timeout: .seconds(5)).map(\.text) == ["python"])

        await first.stop()
        let second = Broker(
            context: context, endpoints: endpoints, curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        try await second.start()
        try await eventually(timeout: .seconds(3), "the Python worker re-registered") {
            (try? await client.request(service: "pyecho", body: [], timeout: .milliseconds(300)))?.map(\.text) == ["python"]
        }

        try await worker.stop()
        await client.close()
        await second.stop()
        await context.shutdown()
    }
}
