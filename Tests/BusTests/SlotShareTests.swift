@testable import Bus
import Foundation
import Logging
import Models
import TestSupport
import Testing

/// Operations of a pretend service with one costly operation and one cheap one.
private enum Hasher {
    static let service = ServiceName("hasher")

    struct Costly: BusOperation {
        struct Request: Codable, Sendable { var n: Int }
        typealias Response = Empty
        static let service = Hasher.service
        static let name = "hasher.costly"
        static let timeout: Duration = .seconds(5)
    }

    struct Cheap: BusOperation {
        typealias Request = Costly.Request
        typealias Response = Costly.Request
        static let service = Hasher.service
        static let name = "hasher.cheap"
        static let isIdempotent = true
    }
}

/// A broker and a four-slot worker whose costly operation may hold three slots, the fourth left
/// for the cheap one.
private func withHasher(_ body: (BusClient, MDPClient, Gate, LogCapture) async throws -> Void) async throws {
    let fixture = try await BrokerFixture.start()
    let logs = LogCapture()
    let gate = Gate()
    let worker = ServiceWorker(
        context: fixture.context, endpoint: fixture.endpoints.mdp, service: Hasher.service, instanceId: "h1", slots: 4,
        curve: nil, heartbeat: testHeartbeat, logger: logs.logger())
    let costly = worker.share("costly", reserving: 1)
    #expect(costly.limit == 3)
    worker.handle(Hasher.Costly.self, within: costly) { request, _ in
        await gate.wait()
        // A request numbered 100 or more takes that many milliseconds once let in.
        if request.n >= 100 { try await Task.sleep(for: .milliseconds(request.n)) }
        return Empty()
    }
    worker.handle(Hasher.Cheap.self) { request, _ in request }
    let running = Task { try await worker.run() }
    let mdp = MDPClient(context: fixture.context, endpoint: fixture.endpoints.mdp, curve: nil, logger: quietLogger)
    let bus = BusClient(mdp: mdp, logger: quietLogger)
    var failure: (any Error)?
    do {
        try await Eventually.wait(timeout: .seconds(5), "the worker registered") { await worker.isRegistered() }
        try await body(bus, mdp, gate, logs)
    } catch {
        failure = error
    }
    gate.open()
    await worker.stop()
    try await running.value
    await mdp.close()
    await fixture.shutdown()
    if let failure { throw failure }
}

@Suite("Slot shares")
struct SlotShareTests {
    @Test("beyond its share a costly operation answers busy at once without running, while cheap calls are all served")
    func busyBeyondShare() async throws {
        try await withHasher { bus, mdp, gate, _ in
            let held = (0..<3).map { n in
                Task { try await bus.call(Hasher.Costly.self, .init(n: n), as: .anonymous) }
            }
            try await Eventually.wait(timeout: .seconds(5), "three costly calls hold their slots") { gate.arrived == 3 }

            // Straight on MDP, so the client's own retry does not hide the answer.
            let header = RequestHeader(
                operation: Hasher.Costly.name, requestId: "fourth", caller: .anonymous,
                deadline: Int64(Date().timeIntervalSince1970 * 1000) + 5000)
            let reply = try await mdp.request(
                service: Hasher.service.rawValue,
                body: [HeaderCoding.encode(header), try WireCoding.encoder().encode(Hasher.Costly.Request(n: 4))],
                timeout: .seconds(2))
            let error = try HeaderCoding.decodeReplyHeader(reply[0]).error
            #expect(error?.code == .busy)
            #expect(error?.retryAfterSeconds == 1)
            #expect(gate.arrived == 3)

            for n in 0..<20 {
                #expect(try await bus.call(Hasher.Cheap.self, .init(n: n), as: .anonymous).n == n)
            }
            gate.open()
            for call in held { _ = try await call.value }
        }
    }

    @Test("a busy answer is sent again by the client until a place frees")
    func clientRetriesBusy() async throws {
        try await withHasher { bus, _, gate, logs in
            let held = (0..<3).map { n in
                Task { try await bus.call(Hasher.Costly.self, .init(n: n), as: .anonymous) }
            }
            try await Eventually.wait(timeout: .seconds(5), "three costly calls hold their slots") { gate.arrived == 3 }
            let fourth = Task { try await bus.call(Hasher.Costly.self, .init(n: 4), as: .anonymous) }
            try await Eventually.wait(timeout: .seconds(5), "the fourth was refused at least twice") {
                logs.all.filter { $0.message.hasPrefix("bus request refused") }.count >= 2
            }
            gate.open()
            _ = try await fourth.value
            for call in held { _ = try await call.value }
            #expect(gate.arrived == 4)
        }
    }

    @Test("kept busy past half its time, a call is told busy, not let in too late to finish and left to time out")
    func busyPastHalfTheTime() async throws {
        try await withHasher { bus, _, gate, logs in
            let held = (0..<3).map { n in
                Task { try await bus.call(Hasher.Costly.self, .init(n: n), as: .anonymous) }
            }
            try await Eventually.wait(timeout: .seconds(5), "three costly calls hold their slots") { gate.arrived == 3 }
            // Needs 2 s once in; places free 3.5 s into its 5: let in then, it would end at 5.5 s.
            let late = Task { try await bus.call(Hasher.Costly.self, .init(n: 2000), as: .anonymous) }
            // Its time runs from when it was sent, before its first refusal: counted from the refusal, the
            // 3.5 s are at least that long into its time however late a loaded machine sent it.
            try await Eventually.wait(timeout: .seconds(5), "the late call is refused a first time") {
                logs.all.contains { $0.message.hasPrefix("bus request refused") }
            }
            try await Task.sleep(for: .milliseconds(3500))
            gate.open()
            let error = await #expect(throws: ServiceError.self) { try await late.value }
            #expect(error?.code == .busy, "\(String(describing: error))")
            for call in held { _ = try await call.value }
        }
    }
}
