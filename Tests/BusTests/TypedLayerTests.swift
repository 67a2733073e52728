@testable import Bus
import Foundation
import Logging
import Models
import Synchronization
import TestSupport
import Testing

/// Operations of a pretend service, declared the way Models declares the real ones.
enum Greeter {
    static let service = ServiceName("greeter")

    struct Hello: BusOperation {
        struct Request: Codable, Sendable { var name: String }
        struct Response: Codable, Sendable, Equatable {
            var greeting: String
            var worker: String
            var requestId: String
        }
        static let service = Greeter.service
        static let name = "greeter.hello"
        static let isIdempotent = true
        // Long enough for 16 callers on a machine loaded by the whole suite; each attempt gets a third.
        static let timeout: Duration = .seconds(4)
    }

    /// Not idempotent: a lost answer must not be retried.
    struct Charge: BusOperation {
        typealias Request = Hello.Request
        typealias Response = Hello.Response
        static let service = Greeter.service
        static let name = "greeter.charge"
        static let timeout: Duration = .milliseconds(600)
    }

    struct Validate: BusOperation {
        typealias Request = Hello.Request
        typealias Response = Empty
        static let service = Greeter.service
        static let name = "greeter.validate"
    }

    struct Explode: BusOperation {
        typealias Request = Hello.Request
        typealias Response = Empty
        static let service = Greeter.service
        static let name = "greeter.explode"
    }

    /// Fails the way a saturated database does.
    struct Overloaded: BusOperation {
        typealias Request = Hello.Request
        typealias Response = Empty
        static let service = Greeter.service
        static let name = "greeter.overloaded"
    }

    struct Unserved: BusOperation {
        typealias Request = Empty
        typealias Response = Empty
        static let service = Greeter.service
        static let name = "greeter.unserved"
    }
}

private struct SecretFailure: Error {
    let detail = "database password rejected"
}

/// A lower layer's error that says what the caller should hear (as `StoreError.poolSaturated` does).
private struct Saturated: ServiceErrorConvertible {
    var serviceError: ServiceError? { ServiceError(.unavailable, "overloaded; try again shortly", retryAfterSeconds: 1) }
}

/// Records which requests a worker's handlers saw.
private final class Journal: Sendable {
    private let entries = Mutex<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

private func makeGreeter(
    _ context: BusContext, _ endpoint: String, tag: String, slots: Int = 2, journal: Journal = Journal(),
    logger: Logger = quietLogger
) -> ServiceWorker {
    let worker = ServiceWorker(
        context: context, endpoint: endpoint, service: Greeter.service, instanceId: tag, slots: slots, curve: nil,
        heartbeat: testHeartbeat, logger: logger)
    worker.handle(Greeter.Hello.self) { request, context in
        journal.add("hello \(context.requestId)")
        return .init(greeting: "hello, \(request.name)", worker: tag, requestId: context.requestId)
    }
    worker.handle(Greeter.Charge.self) { request, context in
        journal.add("charge \(context.requestId)")
        return .init(greeting: "charged \(request.name)", worker: tag, requestId: context.requestId)
    }
    worker.handle(Greeter.Validate.self) { request, _ in
        throw ServiceError(
            .validationFailed, "the name is not acceptable",
            fieldErrors: [FieldError(field: "name", code: "too_short"), FieldError(field: "name", code: "reserved")])
    }
    worker.handle(Greeter.Explode.self) { _, _ in throw SecretFailure() }
    worker.handle(Greeter.Overloaded.self) { _, _ in throw Saturated() }
    return worker
}

/// A broker and one greeter worker ("g1") for one test, with a typed client and the MDP client
/// under it; everything is stopped after `body`, whether it passed or threw.
private func withGreeter(
    journal: Journal = Journal(), logger: Logger = quietLogger, _ body: (BusClient, MDPClient) async throws -> Void
) async throws {
    let fixture = try await BrokerFixture.start()
    let worker = makeGreeter(fixture.context, fixture.endpoints.mdp, tag: "g1", journal: journal, logger: logger)
    let running = Task { try await worker.run() }
    let mdp = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
    var failure: (any Error)?
    do {
        try await body(BusClient(mdp: mdp, logger: quietLogger), mdp)
    } catch {
        failure = error
    }
    await worker.stop()
    try await running.value
    await mdp.close()
    await fixture.shutdown()
    if let failure { throw failure }
}

@Suite("Typed bus calls")
struct TypedLayerTests {
    @Test("a typed call returns the worker's response, with the caller's request id")
    func roundTrip() async throws {
        try await withGreeter { bus, _ in
            let response = try await bus.call(Greeter.Hello.self, .init(name: "Ada"), as: .anonymous)
            #expect(response.greeting == "hello, Ada")
            #expect(response.worker == "g1")
            #expect(!response.requestId.isEmpty)
            #expect(try await bus.hasWorkers("greeter"))
            #expect(try await bus.hasWorkers("nobody") == false)
            let status = try await bus.serviceStatus(Greeter.service)
            #expect(status.instances == 1 && status.workers == 2)
        }
    }

    @Test("a call can return the response's JSON as the worker wrote it, with errors as typed calls throw them")
    func responseAsJSON() async throws {
        try await withGreeter { bus, _ in
            let json = try await bus.callReturningJSON(Greeter.Hello.self, .init(name: "Ada"), as: .anonymous)
            let decoded = try WireCoding.decoder().decode(Greeter.Hello.Response.self, from: json)
            #expect(decoded.greeting == "hello, Ada" && decoded.worker == "g1")
            #expect(String(decoding: json, as: UTF8.self).hasPrefix("{\"greeting\":"), "sorted keys, as WireCoding writes")
            let refused = await #expect(throws: ServiceError.self) {
                try await bus.callReturningJSON(Greeter.Validate.self, .init(name: "x"), as: .anonymous)
            }
            #expect(refused?.code == .validationFailed && refused?.fieldErrors.count == 2)
        }
    }

    @Test("a worker's ServiceError reaches the caller with its code and field errors")
    func serviceErrorPassesThrough() async throws {
        try await withGreeter { bus, _ in
            let error = await #expect(throws: ServiceError.self) {
                try await bus.call(Greeter.Validate.self, .init(name: "x"), as: .anonymous)
            }
            #expect(error?.code == .validationFailed)
            #expect(error?.message == "the name is not acceptable")
            #expect(
                error?.fieldErrors == [
                    FieldError(field: "name", code: "too_short"), FieldError(field: "name", code: "reserved"),
                ])
        }
    }

    @Test("an unknown operation is refused; any other handler error becomes a generic internal error")
    func unknownOperationAndInternalError() async throws {
        let logs = LogCapture()
        try await withGreeter(logger: logs.logger()) { bus, _ in
            let unknown = await #expect(throws: ServiceError.self) {
                try await bus.call(Greeter.Unserved.self, Empty(), as: .anonymous)
            }
            #expect(unknown?.code == .unknownOperation)

            let failed = await #expect(throws: ServiceError.self) {
                try await bus.call(Greeter.Explode.self, .init(name: "x"), as: .anonymous)
            }
            #expect(failed?.code == .internalError)
            #expect(failed?.message.contains("password") == false)
            // The operator still finds the real error in the log, tagged with the request.
            let failure = logs.all.first { $0.message == "bus handler failed" }
            #expect(failure?.metadata["bus.error"]?.contains("SecretFailure") == true)
            #expect(failure?.metadata["bus.operation"] == "greeter.explode")
            #expect(failure?.metadata["request.id"]?.isEmpty == false)

            // An error that says what the caller should hear is answered as it says.
            let overloaded = await #expect(throws: ServiceError.self) {
                try await bus.call(Greeter.Overloaded.self, .init(name: "x"), as: .anonymous)
            }
            #expect(overloaded?.code == .unavailable)
            #expect(overloaded?.retryAfterSeconds == 1)
        }
    }

    @Test("a request past its deadline is answered timeout without running; an unreadable header is a bad request")
    func deadlineAndBadHeader() async throws {
        let journal = Journal()
        try await withGreeter(journal: journal) { _, mdp in
            let encoder = WireCoding.encoder()
            let decoder = WireCoding.decoder()
            let expired = RequestHeader(
                operation: Greeter.Hello.name, requestId: "late-1", caller: .anonymous,
                deadline: Int64(Date().timeIntervalSince1970 * 1000) - 1000)
            let late = try await mdp.request(
                service: "greeter",
                body: [try encoder.encode(expired), try encoder.encode(Greeter.Hello.Request(name: "x"))],
                timeout: .seconds(2))
            let lateHeader = try decoder.decode(ReplyHeader.self, from: late[0])
            #expect(lateHeader.requestId == "late-1")
            #expect(lateHeader.error?.code == .timeout)
            #expect(journal.all.isEmpty)

            let garbled = try await mdp.request(
                service: "greeter", body: [Data("not json".utf8), Data("{}".utf8)], timeout: .seconds(2))
            #expect(try decoder.decode(ReplyHeader.self, from: garbled[0]).error?.code == .badRequest)
        }
    }

    @Test("a call longer than the operation's timeout ends as a timeout for the caller")
    func callerDeadline() async throws {
        let fixture = try await BrokerFixture.start()
        let worker = ServiceWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: Greeter.service, instanceId: "slow",
            curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        worker.handle(Greeter.Charge.self) { request, context in
            try await Task.sleep(for: .milliseconds(900))
            return .init(greeting: "too late", worker: "slow", requestId: context.requestId)
        }
        let running = Task { try await worker.run() }
        let bus = BusClient(
            mdp: MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger),
            logger: quietLogger)
        let started = ContinuousClock.now
        let error = await #expect(throws: ServiceError.self) {
            try await bus.call(Greeter.Charge.self, .init(name: "x"), as: .anonymous)
        }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - started < .seconds(1.5))
        await worker.stop()
        try await running.value
        await fixture.shutdown()
    }

    @Test("typed calls share one socket: each concurrent call gets its own answer, and a late answer answers nobody")
    func sharedSocket() async throws {
        let fixture = try await BrokerFixture.start()
        let worker = ServiceWorker(
            context: fixture.context, endpoint: fixture.endpoints.mdp, service: Greeter.service, instanceId: "mixed",
            slots: 8, curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
        worker.handle(Greeter.Hello.self) { request, context in
            // Answers come back out of order.
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
            return .init(greeting: "hello, \(request.name)", worker: "mixed", requestId: context.requestId)
        }
        worker.handle(Greeter.Charge.self) { request, context in
            try await Task.sleep(for: .milliseconds(900))
            return .init(greeting: "charged \(request.name)", worker: "mixed", requestId: context.requestId)
        }
        let running = Task { try await worker.run() }
        let logs = LogCapture()
        let bus = BusClient(
            mdp: MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: logs.logger()),
            logger: quietLogger)

        // Charge times out after 600 ms; its answer arrives at 900 ms, amid other calls.
        let timedOut = await #expect(throws: ServiceError.self) {
            try await bus.call(Greeter.Charge.self, .init(name: "late"), as: .anonymous)
        }
        #expect(timedOut?.code == .timeout)
        let until = ContinuousClock.now + .milliseconds(600)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<16 {
                group.addTask {
                    var call = 0
                    while ContinuousClock.now < until {
                        let name = "\(caller)-\(call)"
                        let response = try await bus.call(Greeter.Hello.self, .init(name: name), as: .anonymous)
                        #expect(response.greeting == "hello, \(name)")
                        call += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(logs.all.contains { $0.message == "bus client dropped a reply to a call that ended" })

        await worker.stop()
        try await running.value
        await fixture.shutdown()
    }

    @Test("typed calls made while the broker is away end in time; once it is there, calls succeed")
    func brokerAway() async throws {
        let brokerContext = BusContext(logger: quietLogger)
        let first = Broker(
            context: brokerContext, endpoints: wildcardEndpoints, curve: nil, heartbeat: fastHeartbeat,
            logger: quietLogger)
        try await first.start()
        let endpoints = first.endpoints
        let workerContext = BusContext(logger: quietLogger)
        let worker = ServiceWorker(
            context: workerContext, endpoint: endpoints.mdp, service: Greeter.service, instanceId: "back", slots: 2,
            curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        worker.handle(Greeter.Hello.self) { request, context in
            .init(greeting: "hello, \(request.name)", worker: "back", requestId: context.requestId)
        }
        let running = Task { try await worker.run() }
        let callerContext = BusContext(logger: quietLogger)
        await first.stop()
        // A client that has never reached the broker: its calls wait for a connection.
        let bus = BusClient(
            mdp: MDPClient(context: callerContext, endpoint: endpoints.mdp, curve: nil, logger: quietLogger),
            logger: quietLogger)
        // More calls than the client keeps waiting for a connection; every one ends by its timeout.
        let started = ContinuousClock.now
        let failures = await withTaskGroup(of: ServiceError?.self) { group in
            for index in 0..<200 {
                group.addTask {
                    do {
                        _ = try await bus.call(Greeter.Charge.self, .init(name: "\(index)"), as: .anonymous)
                        return nil
                    } catch {
                        return error as? ServiceError
                    }
                }
            }
            return await group.reduce(into: [ServiceError]()) { if let error = $1 { $0.append(error) } }
        }
        #expect(failures.count == 200)
        #expect(failures.allSatisfy { $0.code == .timeout })
        #expect(ContinuousClock.now - started < .seconds(3))

        let second = Broker(
            context: brokerContext, endpoints: endpoints, curve: nil, heartbeat: fastHeartbeat, logger: quietLogger)
        try await second.start()
        let restarted = ContinuousClock.now
        var greeting: String?
        while greeting == nil && ContinuousClock.now - restarted < .seconds(5) {
            greeting = try? await bus.call(Greeter.Hello.self, .init(name: "after"), as: .anonymous).greeting
        }
        #expect(greeting == "hello, after")

        await worker.stop()
        try await running.value
        await second.stop()
        await callerContext.shutdown()
        await workerContext.shutdown()
        await brokerContext.shutdown()
    }

    @Test("calls held up by an unreachable broker are counted while they wait, and once ended do not pile up")
    func unreachableBroker() async throws {
        let refusing = try RefusingPort()
        let context = BusContext(logger: quietLogger)
        let mdp = MDPClient(context: context, endpoint: "tcp://127.0.0.1:\(refusing.port)", curve: nil, logger: quietLogger)
        let bus = BusClient(mdp: mdp, logger: quietLogger)
        let charge: @Sendable (Int) async -> ServiceError? = { index in
            do {
                _ = try await bus.call(Greeter.Charge.self, .init(name: "\(index)"), as: .anonymous)
                return nil
            } catch {
                return error as? ServiceError
            }
        }
        let calls = Task {
            await withTaskGroup(of: ServiceError?.self) { group in
                for index in 0..<200 { group.addTask { await charge(index) } }
                return await group.reduce(into: [ServiceError]()) { if let error = $1 { $0.append(error) } }
            }
        }
        try await eventually("200 calls waiting") { await mdp.backlog().waiting == 200 }

        let failures = await calls.value
        #expect(failures.count == 200)
        #expect(failures.allSatisfy { $0.code == .timeout })
        let ended = await mdp.backlog()
        #expect(ended.waiting == 0)
        #expect(ended.held == 200)

        // The next call to wait finds the backlog mostly ended calls, and drops them.
        let late = Task { await charge(200) }
        try await eventually("the late call waiting") { await mdp.backlog().waiting == 1 }
        #expect(await mdp.backlog().held == 1)
        #expect(await late.value?.code == .timeout)
        await context.shutdown()
    }

    @Test("when a worker dies mid-call, an idempotent call is retried on another worker; a non-idempotent one times out")
    func workerCrash() async throws {
        let fixture = try await BrokerFixture.start()
        let endpoint = fixture.endpoints.mdp
        let bus = BusClient(
            mdp: MDPClient(context: fixture.context, endpoint: endpoint, curve: nil, logger: quietLogger),
            logger: quietLogger)
        let probe = MDPClient(context: fixture.context, endpoint: endpoint, curve: nil, logger: quietLogger)

        for idempotent in [true, false] {
            // The doomed worker lives in its own context, so shutting that down is its crash.
            let doomedContext = BusContext(logger: quietLogger)
            let (started, startedSignal) = AsyncStream.makeStream(of: String.self)
            let (gate, release) = AsyncStream.makeStream(of: Void.self)
            let doomed = ServiceWorker(
                context: doomedContext, endpoint: endpoint, service: Greeter.service, instanceId: "doomed", slots: 1,
                curve: nil, heartbeat: testHeartbeat, logger: quietLogger)
            let hang: @Sendable (Greeter.Hello.Request, RequestContext) async throws -> Greeter.Hello.Response = {
                _, context in
                startedSignal.yield(context.requestId)
                for await _ in gate {}
                return .init(greeting: "from the grave", worker: "doomed", requestId: context.requestId)
            }
            doomed.handle(Greeter.Hello.self, hang)
            doomed.handle(Greeter.Charge.self, hang)
            let doomedRun = Task { try await doomed.run() }
            try await eventually("the doomed worker registered") { try await workerCount(probe, "greeter") == 1 }

            let call = Task {
                idempotent
                    ? try await bus.call(Greeter.Hello.self, .init(name: "Grace"), as: .anonymous)
                    : try await bus.call(Greeter.Charge.self, .init(name: "Grace"), as: .anonymous)
            }
            var iterator = started.makeAsyncIterator()
            let firstRequestID = await iterator.next()

            let journal = Journal()
            let survivorContext = BusContext(logger: quietLogger)
            let survivor = makeGreeter(survivorContext, endpoint, tag: "survivor", slots: 1, journal: journal)
            let survivorRun = Task { try await survivor.run() }
            try await eventually("the survivor registered") { try await workerCount(probe, "greeter") == 2 }

            await doomedContext.shutdown()
            await #expect(throws: BusError.closed) { try await doomedRun.value }

            if idempotent {
                let response = try await call.value
                #expect(response.worker == "survivor")
                #expect(response.requestId == firstRequestID)
                #expect(journal.all == ["hello \(firstRequestID ?? "")"])
            } else {
                let error = await #expect(throws: ServiceError.self) { try await call.value }
                #expect(error?.code == .timeout)
                #expect(journal.all.isEmpty)
            }
            release.finish()
            await survivor.stop()
            try await survivorRun.value
            await survivorContext.shutdown()
        }
        await probe.close()
        await fixture.shutdown()
    }
}
