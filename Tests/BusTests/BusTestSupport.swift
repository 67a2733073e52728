import Bus
import Foundation
import Logging
import Synchronization
import Testing

/// Heartbeats for tests that do not measure failure detection: every test target runs at once in
/// one process on two cores, where a heartbeat crossing four threads can take hundreds of
/// milliseconds, so they allow two seconds of silence.
let testHeartbeat = Heartbeat(interval: .milliseconds(200), liveness: 10)

/// Heartbeats for tests that wait for a failure to be noticed, or that talk to the Python peers
/// (which heartbeat every 100 ms and expect the same).
let fastHeartbeat = Heartbeat(interval: .milliseconds(100), liveness: 5)

/// Every test binds wildcard ports, so tests never collide when run in parallel.
let wildcardEndpoints = BusEndpoints(
    mdp: "tcp://127.0.0.1:*", eventsIn: "tcp://127.0.0.1:*", eventsOut: "tcp://127.0.0.1:*")

/// Log records kept in memory, so tests can assert what an operator would read.
final class LogCapture: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])

    var all: [Record] { records.withLock { $0 } }

    func logger(_ label: String = "bus-test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = .debug
        return logger
    }

    fileprivate func append(_ record: Record) {
        records.withLock { $0.append(record) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { $1 } }
            capture.append(
                Record(
                    level: event.level, message: event.message.description,
                    metadata: merged.mapValues { $0.description }))
        }
    }
}

/// A logger that drops everything.
let quietLogger = Logger(label: "bus-test") { _ in SwiftLogNoOpLogHandler() }

/// Waits until `condition` holds, checking every few milliseconds, failing after `timeout`.
func eventually(
    timeout: Duration = .seconds(5), _ what: String = "condition",
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("timed out waiting for \(what)")
    throw BusError.timeout
}

/// A context with a started broker on wildcard ports, for one test.
struct BrokerFixture {
    let context: BusContext
    let broker: Broker
    var endpoints: BusEndpoints { broker.endpoints }

    static func start(
        curve: BrokerCurve? = nil, heartbeat: Heartbeat = testHeartbeat, spin: Duration = .zero,
        logger: Logger = quietLogger
    ) async throws -> BrokerFixture {
        let context = BusContext(logger: logger, spinBeforeSleeping: spin)
        let broker = Broker(
            context: context, endpoints: wildcardEndpoints, curve: curve, heartbeat: heartbeat, logger: logger)
        try await broker.start()
        return BrokerFixture(context: context, broker: broker)
    }

    func shutdown() async {
        await broker.stop()
        await context.shutdown()
    }
}

extension Data {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// An echo handler that tags its reply with `tag`, so tests can tell which worker answered.
func echo(tag: String) -> @Sendable ([Data]) async -> [Data] {
    { body in [Data(tag.utf8)] + body }
}

/// Starts `worker.run` in a task; the task ends when the worker stops.
func launch(_ worker: MDPWorker, _ handler: @escaping @Sendable ([Data]) async -> [Data]) -> Task<Void, any Error> {
    Task { try await worker.run(handler) }
}

/// Asks the broker how many worker sockets serve `service`.
func workerCount(_ client: MDPClient, _ service: String) async throws -> Int {
    let reply = try await client.request(service: "mmi.workers", body: [Data(service.utf8)], timeout: .seconds(2))
    let json = try JSONSerialization.jsonObject(with: try #require(reply.first)) as? [String: Int]
    return json?["workers"] ?? -1
}

/// Holds handlers until the test opens it, counting those that reached it.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, arrived: Int, waiters: [CheckedContinuation<Void, Never>])>((false, 0, []))

    /// How many handlers reached the gate, held or not.
    var arrived: Int { state.withLock { $0.arrived } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let passes = state.withLock { state in
                state.arrived += 1
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if passes { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A CURVE broker that admits two processes: one with `policy` (a service) and a gateway that
/// may only call; with the keys and the client settings of each.
struct PolicyBroker {
    let fixture: BrokerFixture
    let serviceKey: CurveKeyPair
    let gatewayKey: CurveKeyPair
    let serviceCurve: ClientCurve
    let gatewayCurve: ClientCurve

    static func start(service policy: BusPeerPolicy, logger: Logger = quietLogger) async throws -> PolicyBroker {
        let server = CurveKeyPair.generate()
        let serviceKey = CurveKeyPair.generate()
        let gatewayKey = CurveKeyPair.generate()
        let fixture = try await BrokerFixture.start(
            curve: try BrokerCurve(
                keyPair: server,
                peers: [serviceKey.publicKey: policy, gatewayKey.publicKey: BusPeerPolicy(identity: "gateway")]),
            logger: logger)
        return PolicyBroker(
            fixture: fixture, serviceKey: serviceKey, gatewayKey: gatewayKey,
            serviceCurve: try ClientCurve(keyPair: serviceKey, serverPublicKey: server.publicKey),
            gatewayCurve: try ClientCurve(keyPair: gatewayKey, serverPublicKey: server.publicKey))
    }

    /// The broker's public key, which clients are configured with.
    var serverKey: String { serviceCurve.serverPublicKey }
}
