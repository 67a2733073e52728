// bus-benchmark: request/reply latency and throughput of the bus against raw libzmq.
//
//   swift build -c release --product bus-benchmark && .build/release/bus-benchmark [--scale N] [--slots N]
//   .build/release/bus-benchmark --only "typed echo, 16"   # the scenarios whose name contains the text
//   .build/release/bus-benchmark --spin 100                # the spinning scenarios' BUS_SPIN_MICROSECONDS
//
// (a) Baseline: raw libzmq REQ/REP over tcp loopback, 100-byte messages, a REP echo on its own
//     thread and in its own context, as libzmq's local_lat/remote_lat run in two processes.
//     Next to it, raw libzmq with 16 requests in flight on one DEALER against a ROUTER echo: what
//     one direct hop does when libzmq can batch. Then raw libzmq through a load-balancing broker
//     (the zguide's lbbroker: one request per worker connection, as in MDP), 1 and 16 in flight:
//     what this machine allows for the broker's shape. Then our Broker between raw MDP peers
//     (a raw client, raw worker threads): our broker's cost alone; then our MDPWorker behind a
//     raw client, our MDPClient in front of raw workers, and both (untyped: the worker echoes the
//     frames): what each end of the bus adds.
// (b) Through our broker: BusClient → Broker → ServiceWorker echo (typed, two JSON frames each
//     way), 1 caller and 16 concurrent callers; next to "our MDP client and worker", what the
//     typed layer costs. Caller, broker and service each get a BusContext of their own (an I/O
//     thread and a libzmq I/O thread each), as they are three processes in production.
// (c) The 16-caller typed scenario again with CURVE (and the ZAP handler) on every socket.
// (d) The typed scenarios again with every I/O thread spinning before it sleeps
//     (BUS_SPIN_MICROSECONDS, `--spin`, 200 µs unless told).
// (e) The typed scenarios again with the worker's slots on threads of their own (`WorkerThreads`,
//     as the platform's services run them): each receives, runs the handler and replies itself.
//
// Each row also gives the process's CPU time (all of it, and its user-space part) and context
// switches per call, over every thread of every context: they move less with the machine's load
// than the times do.
import Bus
import CZeroMQ
import Foundation
import Logging
import Models
import Synchronization

/// The echo operation the benchmark calls.
enum Bench {
    struct Echo: BusOperation {
        struct Payload: Codable, Sendable { var text: String }
        typealias Request = Payload
        typealias Response = Payload
        static let service = ServiceName("bench")
        static let name = "bench.echo"
        static let isIdempotent = true
        static let timeout: Duration = .seconds(10)
    }
}

/// One row of the report.
struct Figures {
    let name: String
    let calls: Int
    let p50: Double
    let p99: Double
    let perSecond: Double
    /// Process CPU time (user + system, every thread) per call, in µs.
    let cpuPerCall: Double
    /// The user-space part of it: our code, Swift's runtime, libzmq's own work; the rest is the kernel.
    let userPerCall: Double
    /// Context switches (voluntary and not) per call.
    let switchesPerCall: Double
}

/// CPU time and context switches of the whole process so far.
struct Usage {
    let cpuMicroseconds: Double
    let userMicroseconds: Double
    let switches: Double

    static func now() -> Usage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func micros(_ time: timeval) -> Double { Double(time.tv_sec) * 1e6 + Double(time.tv_usec) }
        return Usage(
            cpuMicroseconds: micros(usage.ru_utime) + micros(usage.ru_stime), userMicroseconds: micros(usage.ru_utime),
            switches: Double(usage.ru_nvcsw + usage.ru_nivcsw))
    }
}

func nanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func figures(_ name: String, latencies: [UInt64], elapsed: UInt64, since usage: Usage) -> Figures {
    let used = Usage.now()
    let sorted = latencies.sorted()
    func percentile(_ p: Double) -> Double {
        Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
    }
    return Figures(
        name: name, calls: sorted.count, p50: percentile(0.50), p99: percentile(0.99),
        perSecond: Double(sorted.count) / (Double(elapsed) / 1e9),
        cpuPerCall: (used.cpuMicroseconds - usage.cpuMicroseconds) / Double(sorted.count),
        userPerCall: (used.userMicroseconds - usage.userMicroseconds) / Double(sorted.count),
        switchesPerCall: (used.switches - usage.switches) / Double(sorted.count))
}

// MARK: (a) raw libzmq

/// A raw libzmq pointer handed to another thread.
///
/// `@unchecked Sendable`: contexts are thread-safe by libzmq's contract; every socket carried this
/// way is created and bound on one thread and from then on used by one other thread alone (the
/// echo thread, the raw broker's thread), with the thread start as the fence libzmq asks for when
/// a socket changes threads, so no socket is ever used by two threads at once.
struct RawPointer: @unchecked Sendable { let pointer: UnsafeMutableRawPointer }

/// Runs `body` on a thread of its own (it blocks in libzmq) and returns its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// The echo's socket of `type`, bound on a free loopback port, and that endpoint.
func bindEcho(_ context: RawPointer, type: Int32) -> (RawPointer, String) {
    let socket = RawPointer(pointer: zmq_socket(context.pointer, type)!)
    zmq_bind(socket.pointer, "tcp://127.0.0.1:*")
    var buffer = [CChar](repeating: 0, count: 256)
    var size = buffer.count
    zmq_getsockopt(socket.pointer, ZMQ_LAST_ENDPOINT, &buffer, &size)
    return (socket, String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
}

func rawBaseline(roundTrips: Int, warmUp: Int) async -> Figures {
    let clientContext = RawPointer(pointer: zmq_ctx_new()!)
    let echoContext = RawPointer(pointer: zmq_ctx_new()!)
    let (rep, endpoint) = bindEcho(echoContext, type: ZMQ_REP)
    let total = roundTrips + warmUp

    Thread {
        var message = [UInt8](repeating: 0, count: 256)
        for _ in 0..<total {
            let received = zmq_recv(rep.pointer, &message, message.count, 0)
            zmq_send(rep.pointer, message, Int(received), 0)
        }
        zmq_close(rep.pointer)
    }.start()

    let result = await onThread { () -> Figures in
        let req = zmq_socket(clientContext.pointer, ZMQ_REQ)!
        zmq_connect(req, endpoint)
        let payload = [UInt8](repeating: 0x61, count: 100)
        var reply = [UInt8](repeating: 0, count: 256)
        var latencies: [UInt64] = []
        latencies.reserveCapacity(roundTrips)
        var began: UInt64 = 0
        var usage = Usage.now()
        for index in 0..<total {
            if index == warmUp {
                usage = Usage.now()
                began = nanoseconds()
            }
            let start = nanoseconds()
            zmq_send(req, payload, payload.count, 0)
            zmq_recv(req, &reply, reply.count, 0)
            if index >= warmUp { latencies.append(nanoseconds() - start) }
        }
        let elapsed = nanoseconds() - began
        zmq_close(req)
        return figures("raw libzmq REQ/REP (baseline)", latencies: latencies, elapsed: elapsed, since: usage)
    }
    zmq_ctx_term(clientContext.pointer)
    zmq_ctx_term(echoContext.pointer)
    return result
}

/// Raw libzmq with `inFlight` requests outstanding on one DEALER against a ROUTER echo: the most
/// one direct hop does on this machine when messages can be batched, a ceiling for the broker's
/// two hops with concurrent callers.
func rawPipelined(roundTrips: Int, inFlight: Int) async -> Figures {
    let clientContext = RawPointer(pointer: zmq_ctx_new()!)
    let echoContext = RawPointer(pointer: zmq_ctx_new()!)
    let (router, endpoint) = bindEcho(echoContext, type: ZMQ_ROUTER)

    Thread {
        var identity = [UInt8](repeating: 0, count: 256)
        var message = [UInt8](repeating: 0, count: 256)
        for _ in 0..<roundTrips {
            let identitySize = zmq_recv(router.pointer, &identity, identity.count, 0)
            let received = zmq_recv(router.pointer, &message, message.count, 0)
            zmq_send(router.pointer, identity, Int(identitySize), ZMQ_SNDMORE)
            zmq_send(router.pointer, message, Int(received), 0)
        }
        zmq_close(router.pointer)
    }.start()

    let result = await pipelinedClient(
        "raw libzmq, \(inFlight) in flight", context: clientContext, endpoint: endpoint, roundTrips: roundTrips,
        inFlight: inFlight)
    zmq_ctx_term(clientContext.pointer)
    zmq_ctx_term(echoContext.pointer)
    return result
}

/// A client on a thread of its own keeping `inFlight` requests outstanding on one DEALER
/// connected to `endpoint`. Each request is `envelope` then a 100-byte payload; the reply must end
/// with that payload.
func pipelinedClient(
    _ name: String, context: RawPointer, endpoint: String, roundTrips: Int, inFlight: Int, envelope: [[UInt8]] = []
) async -> Figures {
    await onThread { () -> Figures in
        let dealer = zmq_socket(context.pointer, ZMQ_DEALER)!
        zmq_connect(dealer, endpoint)
        // Each payload carries its index, so a reply finds when its request left.
        var sentAt = [UInt64](repeating: 0, count: roundTrips)
        var payload = [UInt8](repeating: 0x61, count: 100)
        var latencies: [UInt64] = []
        latencies.reserveCapacity(roundTrips)
        func send(_ index: Int) {
            withUnsafeBytes(of: UInt32(index)) { for (offset, byte) in $0.enumerated() { payload[offset] = byte } }
            sentAt[index] = nanoseconds()
            for frame in envelope { zmq_send(dealer, frame, frame.count, ZMQ_SNDMORE) }
            zmq_send(dealer, payload, payload.count, 0)
        }
        let usage = Usage.now()
        let began = nanoseconds()
        var next = 0
        while next < min(inFlight, roundTrips) {
            send(next)
            next += 1
        }
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        for _ in 0..<roundTrips {
            // The last frame is the payload; each receive releases the frame before it.
            repeat {
                zmq_msg_recv(&message, dealer, 0)
            } while zmq_msg_more(&message) != 0
            let index = Int(zmq_msg_data(&message).loadUnaligned(as: UInt32.self))
            latencies.append(nanoseconds() - sentAt[index])
            if next < roundTrips {
                send(next)
                next += 1
            }
        }
        let elapsed = nanoseconds() - began
        zmq_msg_close(&message)
        zmq_close(dealer)
        return figures(name, latencies: latencies, elapsed: elapsed, since: usage)
    }
}

/// Raw libzmq through a load-balancing broker (the zguide's "lbbroker" pattern, without MDP,
/// JSON or Swift concurrency): a ROUTER for clients, a ROUTER for `workers` echo workers, each a
/// DEALER on a thread of its own holding one request at a time, as an MDP worker does; the
/// client keeps `inFlight` requests outstanding on one connection, as our callers share one.
/// The same contexts and connections as the bus scenarios: what the machine allows for that shape.
func rawBrokered(roundTrips: Int, inFlight: Int, workers: Int) async -> Figures {
    let clientContext = RawPointer(pointer: zmq_ctx_new()!)
    let brokerContext = RawPointer(pointer: zmq_ctx_new()!)
    let workerContext = RawPointer(pointer: zmq_ctx_new()!)
    let (frontend, frontendEndpoint) = bindEcho(brokerContext, type: ZMQ_ROUTER)
    let (backend, backendEndpoint) = bindEcho(brokerContext, type: ZMQ_ROUTER)

    for _ in 0..<workers {
        Thread {
            let dealer = zmq_socket(workerContext.pointer, ZMQ_DEALER)!
            zmq_connect(dealer, backendEndpoint)
            var client = [UInt8](repeating: 0, count: 256)
            var message = [UInt8](repeating: 0, count: 256)
            // An empty frame says "ready"; after that each reply says it again.
            zmq_send(dealer, nil, 0, 0)
            while true {
                let clientSize = zmq_recv(dealer, &client, client.count, 0)
                if clientSize < 0 { break }
                let received = zmq_recv(dealer, &message, message.count, 0)
                zmq_send(dealer, client, Int(clientSize), ZMQ_SNDMORE)
                zmq_send(dealer, message, Int(received), 0)
            }
            zmq_close(dealer)
        }.start()
    }

    Thread {
        var idle: [[UInt8]] = []
        var identity = [UInt8](repeating: 0, count: 256)
        var client = [UInt8](repeating: 0, count: 256)
        var message = [UInt8](repeating: 0, count: 256)
        var answered = 0
        var items = [
            zmq_pollitem_t(socket: backend.pointer, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
            zmq_pollitem_t(socket: frontend.pointer, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
        ]
        while answered < roundTrips {
            // Clients are heard only while a worker is free; meanwhile requests queue in libzmq.
            items[1].revents = 0
            zmq_poll(&items, idle.isEmpty ? 1 : 2, -1)
            if items[0].revents != 0 {
                let identitySize = zmq_recv(backend.pointer, &identity, identity.count, 0)
                idle.append(Array(identity[..<Int(identitySize)]))
                let clientSize = zmq_recv(backend.pointer, &client, client.count, 0)
                if clientSize > 0 {
                    let received = zmq_recv(backend.pointer, &message, message.count, 0)
                    zmq_send(frontend.pointer, client, Int(clientSize), ZMQ_SNDMORE)
                    zmq_send(frontend.pointer, message, Int(received), 0)
                    answered += 1
                }
            }
            if items[1].revents != 0 {
                let clientSize = zmq_recv(frontend.pointer, &client, client.count, 0)
                let received = zmq_recv(frontend.pointer, &message, message.count, 0)
                let worker = idle.removeFirst()
                zmq_send(backend.pointer, worker, worker.count, ZMQ_SNDMORE)
                zmq_send(backend.pointer, client, Int(clientSize), ZMQ_SNDMORE)
                zmq_send(backend.pointer, message, Int(received), 0)
            }
        }
        zmq_close(frontend.pointer)
        zmq_close(backend.pointer)
    }.start()

    let result = await pipelinedClient(
        inFlight == 1 ? "raw libzmq via a broker, 1 caller" : "raw libzmq via a broker, \(inFlight) in flight",
        context: clientContext, endpoint: frontendEndpoint, roundTrips: roundTrips, inFlight: inFlight)
    // Unblocks the workers' receives (ETERM), then waits for their sockets to close.
    zmq_ctx_shutdown(workerContext.pointer)
    zmq_ctx_term(workerContext.pointer)
    zmq_ctx_term(clientContext.pointer)
    zmq_ctx_term(brokerContext.pointer)
    return result
}

/// Errors only: the benchmark's own output is the report.
let quietLogger: Logger = {
    var logger = Logger(label: "bus-benchmark")
    logger.logLevel = .error
    return logger
}()

/// Our broker in `context`, on free loopback ports.
func startBroker(_ context: BusContext, curve: BrokerCurve?) async throws -> Broker {
    let broker = Broker(
        context: context,
        endpoints: BusEndpoints(mdp: "tcp://127.0.0.1:*", eventsIn: "tcp://127.0.0.1:*", eventsOut: "tcp://127.0.0.1:*"),
        curve: curve, logger: quietLogger)
    try await broker.start()
    return broker
}

/// Returns once the broker has a worker for the echo service.
func untilServed(_ client: BusClient) async throws {
    while try await !client.hasWorkers(Bench.Echo.service.rawValue) {
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Which ends of a call are ours (`MDPClient`, `MDPWorker`) and which raw, around our broker.
enum OurEnds {
    case neither, worker, client, both

    var name: String {
        switch self {
        case .neither: "raw MDP peers via our broker, 16 in flight"
        case .worker: "raw MDP client, our MDP worker, 16 in flight"
        case .client: "our MDP client, raw MDP workers, 16 callers"
        case .both: "our MDP client and worker, 16 callers"
        }
    }
}

/// Our broker between MDP/0.1 peers, untyped (no JSON: the worker echoes the frames). With raw
/// peers on both ends (a raw client keeping `inFlight` requests outstanding on one DEALER, raw
/// echo workers on threads of their own) it prices our broker next to `rawBrokered`; with our
/// `MDPWorker`, our `MDPClient` (`inFlight` callers) or both, what each end of the bus adds; next
/// to the typed rows, "both" shows what the typed layer costs on top.
func oursViaOurBroker(_ ends: OurEnds, roundTrips: Int, inFlight: Int, workers: Int) async throws -> Figures {
    let brokerContext = BusContext(logger: quietLogger)
    let clientContext = BusContext(logger: quietLogger)
    let workerContext = BusContext(logger: quietLogger)
    let broker = try await startBroker(brokerContext, curve: nil)
    let rawContext = RawPointer(pointer: zmq_ctx_new()!)
    let endpoint = broker.endpoints.mdp
    let service = Array(Bench.Echo.service.rawValue.utf8)
    let mdp = MDPClient(context: clientContext, endpoint: endpoint, curve: nil, logger: quietLogger)
    var worker: MDPWorker?
    var running: Task<Void, any Error>?
    if ends == .neither || ends == .client {
        startRawMDPWorkers(context: rawContext, endpoint: endpoint, count: workers)
    } else {
        let echo = MDPWorker(
            context: workerContext, endpoint: endpoint, service: Bench.Echo.service.rawValue, instanceId: "bench-1",
            slots: workers, curve: nil, logger: quietLogger)
        running = Task { try await echo.run { $0 } }
        worker = echo
    }
    try await untilServed(BusClient(mdp: mdp, logger: quietLogger))
    let result: Figures
    if ends == .neither || ends == .worker {
        result = await pipelinedClient(
            ends.name, context: rawContext, endpoint: endpoint, roundTrips: roundTrips, inFlight: inFlight,
            envelope: [[], Array("MDPC01".utf8), service])
    } else {
        // The typed calls' path (the shared socket, replies matched by the id in their first
        // frame), with a reply header that the echo brings back.
        let payload = Data(repeating: 0x61, count: 100)
        let nextID = Atomic<Int>(0)
        result = try await measure(ends.name, callers: inFlight, callsPerCaller: roundTrips / inFlight, warmUp: 500) {
            let id = String(nextID.add(1, ordering: .relaxed).newValue)
            let header = Data(#"{"requestId":"\#(id)"}"#.utf8)
            let reply = try await mdp.request(
                service: Bench.Echo.service.rawValue, body: [header, payload], requestID: id, timeout: .seconds(10))
            precondition(reply.count == 2)
        }
    }
    await worker?.stop()
    try await running?.value
    zmq_ctx_shutdown(rawContext.pointer)
    zmq_ctx_term(rawContext.pointer)
    await broker.stop()
    await clientContext.shutdown()
    await workerContext.shutdown()
    await brokerContext.shutdown()
    return result
}

/// `count` raw MDP/0.1 echo workers, each a DEALER on a thread of its own, until `context` shuts down.
func startRawMDPWorkers(context: RawPointer, endpoint: String, count: Int) {
    let service = Array(Bench.Echo.service.rawValue.utf8)
    for _ in 0..<count {
        Thread {
            let dealer = zmq_socket(context.pointer, ZMQ_DEALER)!
            zmq_connect(dealer, endpoint)
            func send(_ frames: [[UInt8]]) {
                for (index, frame) in frames.enumerated() {
                    zmq_send(dealer, frame, frame.count, index + 1 < frames.count ? ZMQ_SNDMORE : 0)
                }
            }
            send([[], Array("MDPW01".utf8), [MDPCommand.ready], service])
            var buffer = [UInt8](repeating: 0, count: 1024)
            var size = MemoryLayout<Int32>.size
            receiving: while true {
                var frames: [[UInt8]] = []
                var more: Int32 = 1
                while more != 0 {
                    let received = zmq_recv(dealer, &buffer, buffer.count, 0)
                    if received < 0 { break receiving }
                    frames.append(Array(buffer[..<Int(received)]))
                    zmq_getsockopt(dealer, ZMQ_RCVMORE, &more, &size)
                }
                // REQUEST [empty, MDPW01, 0x02, client, empty, body…] goes back as REPLY (0x03);
                // heartbeats go unanswered, as the steady replies keep the worker alive.
                guard frames.count >= 6, frames[2] == [MDPCommand.request] else { continue }
                frames[2] = [MDPCommand.reply]
                send(frames)
            }
            zmq_close(dealer)
        }.start()
    }
}

/// MDP/0.1 worker commands, spelled out here as a foreign peer would.
enum MDPCommand {
    static let ready: UInt8 = 1
    static let request: UInt8 = 2
    static let reply: UInt8 = 3
}

// MARK: (b) through the broker

/// `callers` tasks each making `callsPerCaller` calls one after the other.
func measure(
    _ name: String, callers: Int, callsPerCaller: Int, warmUp: Int, call: @escaping @Sendable () async throws -> Void
) async throws -> Figures {
    for _ in 0..<warmUp { try await call() }
    let usage = Usage.now()
    let began = nanoseconds()
    let latencies = try await withThrowingTaskGroup(of: [UInt64].self) { group in
        for _ in 0..<callers {
            group.addTask {
                var mine: [UInt64] = []
                mine.reserveCapacity(callsPerCaller)
                for _ in 0..<callsPerCaller {
                    let start = nanoseconds()
                    try await call()
                    mine.append(nanoseconds() - start)
                }
                return mine
            }
        }
        return try await group.reduce(into: [UInt64]()) { $0 += $1 }
    }
    return figures(name, latencies: latencies, elapsed: nanoseconds() - began, since: usage)
}

/// Broker, service and caller in contexts of their own; CURVE on every socket when `curved`.
/// With `spinMicroseconds`, every context's I/O thread spins that long before sleeping; with
/// `workerThreads`, the worker's slots are on threads of their own.
func busBenchmark(
    single: Int, concurrent: Int, slots: Int, only: String?, curved: Bool, spinMicroseconds: Int = 0,
    workerThreads: Bool = false
) async throws -> [Figures] {
    let spin = Duration.microseconds(spinMicroseconds)
    let logger = quietLogger
    let brokerContext = BusContext(logger: logger, spinBeforeSleeping: spin)
    let serviceContext = BusContext(logger: logger, spinBeforeSleeping: spin)
    let callerContext = BusContext(logger: logger, spinBeforeSleeping: spin)
    let serverKeys = CurveKeyPair.generate()
    let clientKeys = CurveKeyPair.generate()
    // One key serves and calls, as the platform: the broker's policy checks are part of the cost.
    let policy = BusPeerPolicy(identity: "bench", services: [Bench.Echo.service.rawValue], claimsSystem: true)
    let brokerCurve = curved ? try BrokerCurve(keyPair: serverKeys, peers: [clientKeys.publicKey: policy]) : nil
    let clientCurve = curved ? try ClientCurve(keyPair: clientKeys, serverPublicKey: serverKeys.publicKey) : nil
    let broker = try await startBroker(brokerContext, curve: brokerCurve)
    let endpoint = broker.endpoints.mdp
    let worker = ServiceWorker(
        context: serviceContext, endpoint: endpoint, service: Bench.Echo.service, instanceId: "bench-1", slots: slots,
        curve: clientCurve, threads: workerThreads ? WorkerThreads(starting: {}, ending: {}) : nil, logger: logger)
    worker.handle(Bench.Echo.self) { request, _ in request }
    let running = Task { try await worker.run() }
    let mdp = MDPClient(context: callerContext, endpoint: endpoint, curve: clientCurve, logger: logger)
    let client = BusClient(mdp: mdp, logger: logger)
    try await untilServed(client)

    let text = String(repeating: "a", count: 100)
    let typed: @Sendable () async throws -> Void = {
        let response = try await client.call(Bench.Echo.self, .init(text: text), as: .system)
        precondition(response.text.utf8.count == 100)
    }
    var rows: [Figures] = []
    func run(_ name: String, callers: Int, call: @escaping @Sendable () async throws -> Void) async throws {
        guard selected(name) else { return }
        rows.append(
            try await measure(
                name, callers: callers, callsPerCaller: (callers == 1 ? single : concurrent) / callers, warmUp: 500,
                call: call))
    }
    if curved {
        try await run(curvedScenario, callers: 16, call: typed)
    } else if workerThreads {
        try await run("bus typed echo, worker threads, 1 caller", callers: 1, call: typed)
        try await run("bus typed echo, worker threads, 16 callers", callers: 16, call: typed)
    } else if spinMicroseconds > 0 {
        try await run("bus typed echo, 1 caller, spin \(spinMicroseconds) µs", callers: 1, call: typed)
        try await run("bus typed echo, 16 callers, spin \(spinMicroseconds) µs", callers: 16, call: typed)
    } else {
        try await run("bus typed echo, 1 caller", callers: 1, call: typed)
        try await run("bus typed echo, 16 callers", callers: 16, call: typed)
    }

    await worker.stop()
    try await running.value
    await broker.stop()
    await callerContext.shutdown()
    await serviceContext.shutdown()
    await brokerContext.shutdown()
    return rows
}

// MARK: Report

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

func number(_ value: Double, _ decimals: Int = 1) -> String {
    String(format: "%.\(decimals)f", value)
}

func option(_ name: String, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return value }
    return Int(arguments[index + 1]) ?? value
}

let scale = max(1, option("--scale", default: 1))
let slots = max(1, option("--slots", default: 16))
let spinMicroseconds = max(0, option("--spin", default: 200))

let curvedScenario = "bus typed echo with CURVE, 16 callers"

/// Only the scenarios whose name contains this text (the baseline always runs).
let only: String? = {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: "--only"), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}()

/// Whether the scenario named `name` runs under `--only`.
func selected(_ name: String) -> Bool { only.map { name.contains($0) } ?? true }

let baseline = await rawBaseline(roundTrips: 20_000 * scale, warmUp: 1_000)
var rawRows: [Figures] = []
if selected("raw libzmq, 16 in flight") {
    rawRows.append(await rawPipelined(roundTrips: 64_000 * scale, inFlight: 16))
}
if selected("raw libzmq via a broker, 1 caller") {
    rawRows.append(await rawBrokered(roundTrips: 10_000 * scale, inFlight: 1, workers: slots))
}
if selected("raw libzmq via a broker, 16 in flight") {
    rawRows.append(await rawBrokered(roundTrips: 64_000 * scale, inFlight: 16, workers: slots))
}
for ends in [OurEnds.neither, .worker, .client, .both] where selected(ends.name) {
    rawRows.append(try await oursViaOurBroker(ends, roundTrips: 64_000 * scale, inFlight: 16, workers: slots))
}
var rows = try await busBenchmark(single: 10_000 * scale, concurrent: 64_000 * scale, slots: slots, only: only, curved: false)
rows += try await busBenchmark(
    single: 10_000 * scale, concurrent: 64_000 * scale, slots: slots, only: only, curved: false, workerThreads: true)
if spinMicroseconds > 0 {
    rows += try await busBenchmark(
        single: 10_000 * scale, concurrent: 64_000 * scale, slots: slots, only: only, curved: false,
        spinMicroseconds: spinMicroseconds)
}
if selected(curvedScenario) {
    rows += try await busBenchmark(single: 10_000 * scale, concurrent: 64_000 * scale, slots: slots, only: only, curved: true)
}

print(
    "bus benchmark: tcp loopback, 100-byte payloads, \(ProcessInfo.processInfo.activeProcessorCount) cores, "
        + "worker slots \(slots), load average \(String(decoding: (FileManager.default.contents(atPath: "/proc/loadavg") ?? Data()).prefix(14), as: UTF8.self))")
print(
    pad("scenario", 46) + pad("calls", 8) + pad("p50 µs", 10) + pad("p99 µs", 10) + pad("calls/s", 10)
        + pad("p50 ×raw", 10) + pad("calls/s ×raw", 14) + pad("cpu µs/call", 13) + pad("user µs/call", 14) + "switches/call")
for row in [baseline] + rawRows + rows {
    print(
        pad(row.name, 46) + pad("\(row.calls)", 8) + pad(number(row.p50), 10) + pad(number(row.p99), 10)
            + pad(number(row.perSecond, 0), 10) + pad(number(row.p50 / baseline.p50, 2), 10)
            + pad(number(row.perSecond / baseline.perSecond, 2), 14) + pad(number(row.cpuPerCall), 13)
            + pad(number(row.userPerCall), 14) + number(row.switchesPerCall))
}
