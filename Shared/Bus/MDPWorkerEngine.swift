import CZeroMQ
import Foundation
import Logging

/// Some of a worker's DEALER slots, on the thread of one loop (the process's I/O thread, or one
/// of the worker's own threads): READY, REQUEST/REPLY, heartbeats, reconnects.
final class WorkerEngine: LoopParticipant {
    typealias Handler = @Sendable ([Data]) async -> [Data]
    /// Hands a finished reply back to the loop's thread: slot position, connection generation,
    /// client, body.
    typealias Deliver = @Sendable (Int, Int, Data, [Data]) -> Void

    private final class Slot {
        /// Where the slot is in this engine's `slots`.
        let position: Int
        /// "<instanceId>/<n>": the identity of the first connection.
        let baseIdentity: String
        /// Connections opened so far; each after the first registers as "<instanceId>/<n>.<count>".
        var connections = 0
        var socket: ZSocket?
        var registration: Registration?
        /// Bumped with every new socket, so a reply computed for an old connection is dropped.
        var generation = 0
        var busy = false
        /// The broker has sent this connection something since its READY, so it knows the slot:
        /// MDP/0.1 acknowledges nothing, but a broker heartbeats (and sends requests to) only the
        /// workers it has registered.
        var acknowledged = false
        var lastHeard: UInt64 = 0
        var lastSent: UInt64 = 0

        init(position: Int, baseIdentity: String) {
            self.position = position
            self.baseIdentity = baseIdentity
        }

        /// A fresh identity per connection: the broker may still hold the previous one (it has
        /// not yet read our DISCONNECT, or never will), and a READY under a registered identity
        /// is a protocol error that costs another round of DISCONNECT and READY. It ends in a
        /// random part (`~` and 16 hex digits, never logged), so that no other process can guess
        /// it and connect under it to be sent this worker's requests once its connection drops.
        var nextIdentity: Data {
            connections += 1
            let name = connections == 1 ? baseIdentity : "\(baseIdentity).\(connections - 1)"
            let secret = String(UInt64.random(in: .min ... .max), radix: 16)
            return Data("\(name)~\(String(repeating: "0", count: 16 - secret.count))\(secret)".utf8)
        }
    }

    private enum State {
        case idle, running, stopping, stopped
    }

    private let endpoint: String
    private let service: Data
    private let curve: ClientCurve?
    private let heartbeat: Heartbeat
    private let gracePeriod: UInt64
    private let logger: Logger
    private let slots: [Slot]
    /// Where handlers run: the worker's own thread, or (nil) the cooperative pool once they wait.
    private let handlerExecutor: (any TaskExecutor)?

    private var state = State.idle
    private var reactor: Reactor?
    private var handler: Handler?
    private var deliver: Deliver?
    private var runContinuation: CheckedContinuation<Void, any Error>?
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    private var heartbeatTimer: TimerID?
    private var graceTimer: TimerID?
    /// When the heartbeat tick last ran, to notice that this thread itself was held up.
    private var lastTick: UInt64 = 0

    /// An engine for the worker's slots numbered `slotNumbers` (identities "<instanceId>/<n>").
    init(
        endpoint: String, service: String, instanceId: String, slotNumbers: [Int], curve: ClientCurve?,
        heartbeat: Heartbeat, gracePeriod: Duration, handlerExecutor: (any TaskExecutor)?, logger: Logger
    ) {
        self.endpoint = endpoint
        self.service = Data(service.utf8)
        self.curve = curve
        self.heartbeat = heartbeat
        self.gracePeriod = gracePeriod.clampedNanoseconds
        self.logger = logger
        self.handlerExecutor = handlerExecutor
        self.slots = slotNumbers.enumerated().map { Slot(position: $0, baseIdentity: "\(instanceId)/\($1)") }
    }

    // MARK: Running

    func run(
        _ reactor: Reactor, handler: @escaping Handler, deliver: @escaping Deliver,
        continuation: CheckedContinuation<Void, any Error>
    ) {
        switch state {
        case .stopped:
            continuation.resume()
            return
        case .running, .stopping:
            continuation.resume(throwing: BusError(.socketError, detail: "the worker is already running"))
            return
        case .idle:
            break
        }
        self.reactor = reactor
        self.handler = handler
        self.deliver = deliver
        if curve == nil {
            logger.warning("bus runs without CURVE: local development only", metadata: ["bus.endpoint": "\(endpoint)"])
        }
        do {
            for slot in slots { try connect(slot) }
        } catch {
            for slot in slots { closeSocket(of: slot, linger: 0) }
            state = .stopped
            continuation.resume(throwing: error)
            return
        }
        state = .running
        runContinuation = continuation
        reactor.join(self)
        scheduleHeartbeat()
        logger.info(
            "bus worker started",
            metadata: ["bus.service": "\(String(decoding: service, as: UTF8.self))", "bus.slots": "\(slots.count)"])
    }

    private func connect(_ slot: Slot) throws(BusError) {
        guard let reactor else { return }
        let identity = slot.nextIdentity
        let socket = try reactor.openConnected(type: ZMQ_DEALER, to: endpoint, curve: curve) { socket throws(BusError) in
            try socket.set(ZMQ_ROUTING_ID, bytes: identity)
        }
        slot.socket = socket
        slot.generation += 1
        slot.busy = false
        slot.acknowledged = false
        let now = monotonicNanoseconds()
        slot.lastHeard = now
        slot.lastSent = now
        slot.registration = reactor.watch(socket) { [unowned self, unowned slot] in drain(slot) }
        // ZMQ_IMMEDIATE is off: READY waits in the pipe until the broker is reachable.
        _ = socket.send([MDP.empty, MDP.worker, MDP.ready, service])
    }

    /// A fresh socket and READY: how a worker survives a broker restart or a DISCONNECT.
    /// With `sayingGoodbye`, the old connection first tells the broker DISCONNECT, so a broker
    /// that is merely slow forgets it at once instead of sending it requests.
    private func reconnect(_ slot: Slot, sayingGoodbye: Bool) {
        if sayingGoodbye, let socket = slot.socket {
            _ = socket.send([MDP.empty, MDP.worker, MDP.disconnect])
            closeSocket(of: slot, linger: 100)
        } else {
            closeSocket(of: slot, linger: 0)
        }
        do {
            try connect(slot)
        } catch {
            logger.error("bus worker could not reconnect", metadata: ["bus.error": "\(error)"])
        }
    }

    private func closeSocket(of slot: Slot, linger: Int32) {
        slot.socket?.close(linger: linger)
        slot.socket = nil
        slot.registration = nil
        slot.busy = false
        slot.acknowledged = false
        slot.generation += 1
    }

    /// Whether the broker has this worker registered: running, with a slot the broker has spoken
    /// to since its READY. What `/readyz` reports for the bus.
    var isRegistered: Bool {
        state == .running && slots.contains { $0.socket != nil && $0.acknowledged }
    }

    // MARK: Messages from the broker

    private func drain(_ slot: Slot) {
        guard let socket = slot.socket else { return }
        while slot.socket === socket, !slot.busy, let frames = socket.receive() {
            handle(frames, on: slot)
        }
    }

    /// ["", "MDPW01", command, …]
    private func handle(_ frames: [Data], on slot: Slot) {
        slot.lastHeard = monotonicNanoseconds()
        guard frames.count >= 3, frames[0].isEmpty, frames[1] == MDP.worker, let command = MDP.Command(frame: frames[2])
        else {
            logger.warning("bus worker dropped a malformed message from the broker")
            return
        }
        switch command {
        case .request:
            // ["", "MDPW01", REQUEST, client, "", body…]
            guard frames.count >= 5, frames[4].isEmpty else {
                logger.warning("bus worker dropped a REQUEST without a client envelope")
                return
            }
            guard state == .running, !slot.busy, let handler, let deliver else { return }
            slot.acknowledged = true
            slot.busy = true
            // The broker sends a busy worker nothing it must act on at once (heartbeats wait in
            // the socket), so the slot leaves the poll set until its reply is sent.
            if let registration = slot.registration { reactor?.setPolled(registration, false) }
            let position = slot.position
            let generation = slot.generation
            let client = frames[3]
            let body = Array(frames[5...])
            // Runs on this thread until the handler first suspends: a handler that answers
            // without waiting costs no hand-off to the cooperative pool and back. On a worker's
            // own thread it also comes back here after waiting, and its reply is sent at once.
            Task.immediate(executorPreference: handlerExecutor) {
                let reply = await handler(body)
                deliver(position, generation, client, reply)
            }
        case .heartbeat:
            slot.acknowledged = true
        case .disconnect:
            guard state == .running else { return }
            logger.info("bus broker said DISCONNECT; registering again")
            reconnect(slot, sayingGoodbye: false)
        case .ready, .reply:
            logger.warning("bus worker dropped a command only workers send")
        }
    }

    /// Called (through the loop) when a handler finished.
    func complete(slot position: Int, generation: Int, client: Data, reply: [Data]) {
        let slot = slots[position]
        guard slot.generation == generation, slot.busy, let socket = slot.socket else {
            logger.debug("bus worker dropped a reply: its connection was renewed meanwhile")
            return
        }
        _ = socket.send([MDP.empty, MDP.worker, MDP.reply, client, MDP.empty], body: reply[...])
        slot.busy = false
        if let registration = slot.registration { reactor?.setPolled(registration, true) }
        let now = monotonicNanoseconds()
        slot.lastSent = now
        // Silence only counts while idle: a foreign broker heartbeats idle workers only.
        slot.lastHeard = now
        if state == .stopping {
            sayGoodbye(slot)
            finishStoppingIfDone()
        }
    }

    // MARK: Heartbeats

    private func scheduleHeartbeat() {
        lastTick = monotonicNanoseconds()
        heartbeatTimer = reactor?.schedule(after: heartbeat.intervalNanoseconds) { [unowned self] in heartbeatTick() }
    }

    private func heartbeatTick() {
        // A tick an interval late means this thread was held up (an overloaded machine, a paused
        // VM): silence measured across our own stall says nothing about the broker.
        if monotonicNanoseconds() &- lastTick > 2 * heartbeat.intervalNanoseconds {
            logger.debug("bus worker was held up; the broker's silence is not judged this time")
            let now = monotonicNanoseconds()
            for slot in slots { slot.lastHeard = max(slot.lastHeard, now) }
        }
        for slot in slots {
            var now = monotonicNanoseconds()
            if state == .running, !slot.busy, now &- slot.lastHeard > heartbeat.expiryNanoseconds {
                // If this thread was held up, the broker's heartbeats may be waiting unread.
                drain(slot)
                now = monotonicNanoseconds()
                if slot.socket != nil, !slot.busy, now &- slot.lastHeard > heartbeat.expiryNanoseconds {
                    logger.info("bus worker heard nothing from the broker; reconnecting")
                    reconnect(slot, sayingGoodbye: true)
                    continue
                }
            }
            guard let socket = slot.socket else { continue }
            if now &- slot.lastSent >= heartbeat.intervalNanoseconds {
                _ = socket.send([MDP.empty, MDP.worker, MDP.heartbeat])
                slot.lastSent = now
            }
        }
        scheduleHeartbeat()
    }

    // MARK: Stopping

    /// Stops taking work, lets busy slots finish within the grace period, says DISCONNECT.
    func stop(_ waiter: CheckedContinuation<Void, Never>) {
        switch state {
        case .idle, .stopped:
            state = .stopped
            waiter.resume()
        case .stopping:
            stopWaiters.append(waiter)
        case .running:
            state = .stopping
            stopWaiters.append(waiter)
            for slot in slots where !slot.busy { sayGoodbye(slot) }
            graceTimer = reactor?.schedule(after: gracePeriod) { [unowned self] in
                graceTimer = nil
                let unfinished = slots.filter { $0.socket != nil }.count
                if unfinished > 0 {
                    logger.warning("bus worker stopped with handlers still running", metadata: ["bus.slots": "\(unfinished)"])
                }
                for slot in slots where slot.socket != nil { sayGoodbye(slot) }
                finishStoppingIfDone()
            }
            finishStoppingIfDone()
        }
    }

    private func sayGoodbye(_ slot: Slot) {
        guard let socket = slot.socket else { return }
        _ = socket.send([MDP.empty, MDP.worker, MDP.disconnect])
        // Linger lets the DISCONNECT leave after the close.
        closeSocket(of: slot, linger: 200)
    }

    private func finishStoppingIfDone() {
        guard state == .stopping, slots.allSatisfy({ $0.socket == nil }) else { return }
        state = .stopped
        cancelTimers()
        reactor?.leave(self)
        logger.info("bus worker stopped", metadata: ["bus.service": "\(String(decoding: service, as: UTF8.self))"])
        runContinuation?.resume()
        runContinuation = nil
        let waiters = stopWaiters
        stopWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    private func cancelTimers() {
        if let heartbeatTimer { reactor?.cancel(heartbeatTimer) }
        if let graceTimer { reactor?.cancel(graceTimer) }
        heartbeatTimer = nil
        graceTimer = nil
    }

    /// The context is going away: sockets close without DISCONNECT, as in a crash.
    func contextClosing() {
        for slot in slots { closeSocket(of: slot, linger: 0) }
        state = .stopped
        cancelTimers()
        runContinuation?.resume(throwing: BusError.closed)
        runContinuation = nil
        let waiters = stopWaiters
        stopWaiters = []
        for waiter in waiters { waiter.resume() }
    }
}
