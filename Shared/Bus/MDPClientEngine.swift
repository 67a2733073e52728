import CZeroMQ
import Foundation
import Logging
import Metrics
import Models

/// The client's sockets, on the I/O thread.
///
/// Typed calls share one DEALER socket: many requests in flight at once, each reply matched to
/// its call by the request id in its reply header, and a late reply to an abandoned call
/// dropped. One busy socket lets libzmq batch messages and wake this thread once per batch.
///
/// Other calls (MMI, foreign bodies) go through a pool of DEALER sockets that each carry at most
/// one outstanding request, so a reply needs no correlation. A pooled socket whose request timed
/// out or was cancelled is closed, never reused: a late reply must not be read as another call's
/// answer.
final class ClientEngine: LoopParticipant {
    typealias Continuation = CheckedContinuation<[Data], any Error>

    private final class Call {
        let id: UInt64
        let service: Data
        let body: [Data]
        /// Set for calls on the shared socket: what the reply header must carry.
        let requestID: String?
        let continuation: Continuation
        var timer: TimerID?
        var socket: PooledSocket?
        var finished = false
        /// In the shared backlog or the pool's queue, counted in `waiting` until it leaves or ends.
        var waiting = false

        init(id: UInt64, service: Data, body: [Data], requestID: String?, continuation: Continuation) {
            self.id = id
            self.service = service
            self.body = body
            self.requestID = requestID
            self.continuation = continuation
        }
    }

    private final class PooledSocket {
        let socket: ZSocket
        var registration: Registration?
        var call: Call?
        /// The request could not leave yet (no connection); sent when the socket turns writable.
        var unsent = false

        init(socket: ZSocket) { self.socket = socket }
    }

    private let endpoint: String
    private let curve: ClientCurve?
    private let maxSockets: Int
    private let logger: Logger

    private var reactor: Reactor?
    private var idle: [PooledSocket] = []
    private var socketCount = 0
    private var queue = FIFO<Call>()
    private var calls: [UInt64: Call] = [:]
    /// Cancellations that overtook their request on the way to the I/O thread.
    private var cancelledEarly: Set<UInt64> = []
    private var closed = false

    /// The socket typed calls share, opened on first use.
    private var shared: ZSocket?
    private var sharedRegistration: Registration?
    /// Calls on the shared socket by request id.
    private var sharedCalls: [String: Call] = [:]
    /// Calls waiting for the shared socket to take them (no connection yet, or its queue full).
    private var sharedBacklog = FIFO<Call>()
    /// Live calls in `sharedBacklog` or `queue`: callers held up by a missing broker or by
    /// `maxSockets`. Mirrored in the process-wide gauge `bus_client_calls_waiting`.
    private(set) var waiting = 0
    private let waitingMeter = Meter(label: "bus_client_calls_waiting")

    init(endpoint: String, curve: ClientCurve?, maxSockets: Int, logger: Logger) {
        self.endpoint = endpoint
        self.curve = curve
        self.maxSockets = max(1, maxSockets)
        self.logger = logger
    }

    // MARK: Calls

    /// Sends `body` to `service`; with a `requestID`, on the shared socket (the reply's first
    /// body frame must then be a `ReplyHeader` carrying it), otherwise on a pooled socket.
    func request(
        _ reactor: Reactor, id: UInt64, service: Data, body: [Data], requestID: String?, timeout: UInt64,
        continuation: Continuation
    ) {
        if closed {
            continuation.resume(throwing: BusError.closed)
            return
        }
        if cancelledEarly.remove(id) != nil {
            continuation.resume(throwing: CancellationError())
            return
        }
        if self.reactor == nil {
            self.reactor = reactor
            reactor.join(self)
            if curve == nil {
                logger.warning("bus runs without CURVE: local development only", metadata: ["bus.endpoint": "\(endpoint)"])
            }
        }
        let call = Call(id: id, service: service, body: body, requestID: requestID, continuation: continuation)
        calls[id] = call
        call.timer = reactor.schedule(after: timeout) { [unowned self] in abandon(call, BusError.timeout) }
        if let requestID {
            guard sharedCalls[requestID] == nil else {
                finish(call, .failure(BusError(.protocolViolation, detail: "request id \(requestID) is already in flight")))
                return
            }
            sharedCalls[requestID] = call
            if sharedBacklog.isEmpty {
                sendShared(call)
            } else {
                startWaiting(call)
                sharedBacklog.append(call)
                pruneSharedBacklog()
            }
        } else if let socket = idle.popLast() {
            assign(call, to: socket)
        } else if socketCount < maxSockets {
            openSocket(for: call)
        } else {
            startWaiting(call)
            queue.append(call)
        }
    }

    func cancel(_ id: UInt64) {
        if let call = calls[id] {
            abandon(call, CancellationError())
        } else if !closed {
            cancelledEarly.insert(id)
        }
    }

    /// A DEALER connected to the broker.
    private func connectDealer(_ reactor: Reactor) throws(BusError) -> ZSocket {
        try reactor.openConnected(type: ZMQ_DEALER, to: endpoint, curve: curve) { socket throws(BusError) in
            // A request is never queued on a connection that is not up (a dead broker).
            try socket.set(ZMQ_IMMEDIATE, 1)
        }
    }

    private func openSocket(for call: Call) {
        guard let reactor else { return }
        do {
            let socket = try connectDealer(reactor)
            let pooled = PooledSocket(socket: socket)
            let registration = reactor.watch(socket) { [unowned self, unowned pooled] in drain(pooled) }
            registration.onWritable = { [unowned self, unowned pooled] in sendPending(pooled) }
            pooled.registration = registration
            socketCount += 1
            assign(call, to: pooled)
        } catch {
            finish(call, .failure(error))
        }
    }

    private func assign(_ call: Call, to pooled: PooledSocket) {
        pooled.call = call
        call.socket = pooled
        if let registration = pooled.registration { reactor?.setPolled(registration, true) }
        transmit(pooled)
    }

    /// [“”, "MDPC01", service, body…]
    private func transmit(_ pooled: PooledSocket) {
        guard let call = pooled.call else { return }
        switch pooled.socket.send([MDP.empty, MDP.client, call.service], body: call.body[...]) {
        case .sent:
            if pooled.unsent, let registration = pooled.registration { reactor?.setWantsWritable(registration, false) }
            pooled.unsent = false
        case .wouldBlock:
            if !pooled.unsent, let registration = pooled.registration { reactor?.setWantsWritable(registration, true) }
            pooled.unsent = true
        case .unreachable, .failed:
            pooled.call = nil
            call.socket = nil
            discard(pooled)
            finish(call, .failure(BusError(.socketError, detail: "send failed: \(zmqErrorText())")))
        }
    }

    private func sendPending(_ pooled: PooledSocket) {
        if pooled.unsent { transmit(pooled) }
    }

    /// Reply: [“”, "MDPC01", service, body…]
    private func drain(_ pooled: PooledSocket) {
        // Finishing a call can hand the socket to a queued call whose send fails and closes it.
        while !pooled.socket.isClosed, let frames = pooled.socket.receive() {
            guard let call = pooled.call else { continue }
            guard frames.count >= 3, frames[0].isEmpty, frames[1] == MDP.client, frames[2] == call.service else {
                pooled.call = nil
                call.socket = nil
                discard(pooled)
                finish(call, .failure(BusError(.protocolViolation, detail: "malformed MDP reply")))
                return
            }
            pooled.call = nil
            call.socket = nil
            finish(call, .success(Array(frames[3...])))
            release(pooled)
        }
    }

    // MARK: The shared socket

    private func openShared() throws(BusError) -> ZSocket {
        if let shared { return shared }
        guard let reactor else { throw BusError.closed }
        let socket = try connectDealer(reactor)
        let registration = reactor.watch(socket) { [unowned self] in drainShared() }
        registration.onWritable = { [unowned self] in sendSharedBacklog() }
        shared = socket
        sharedRegistration = registration
        return socket
    }

    /// Sends the call, or queues it while the socket cannot take it. True when it left.
    @discardableResult
    private func sendShared(_ call: Call) -> Bool {
        let socket: ZSocket
        do {
            socket = try openShared()
        } catch {
            finish(call, .failure(error))
            return true
        }
        switch socket.send([MDP.empty, MDP.client, call.service], body: call.body[...]) {
        case .sent:
            return true
        case .wouldBlock:
            startWaiting(call)
            sharedBacklog.prepend(call)
            if let sharedRegistration { reactor?.setWantsWritable(sharedRegistration, true) }
            return false
        case .unreachable, .failed:
            finish(call, .failure(BusError(.socketError, detail: "send failed: \(zmqErrorText())")))
            return true
        }
    }

    /// Drops calls that ended (timed out, cancelled) while waiting, so that a broker that stays
    /// away for long does not pile up their bodies: the backlog stays within twice the live calls.
    private func pruneSharedBacklog() {
        guard sharedBacklog.count > 2 * sharedCalls.count + 64 else { return }
        sharedBacklog.removeAll { $0.finished }
    }

    private func startWaiting(_ call: Call) {
        call.waiting = true
        countWaiting(1)
    }

    /// A call leaves a backlog or queue; true when it is still live and should go out.
    private func stopWaiting(_ call: Call) -> Bool {
        guard !call.finished else { return false }
        if call.waiting {
            call.waiting = false
            countWaiting(-1)
        }
        return true
    }

    private func countWaiting(_ change: Int) {
        waiting += change
        if change > 0 { waitingMeter.increment(by: Double(change)) } else { waitingMeter.decrement(by: Double(-change)) }
    }

    /// Calls held in the shared backlog, ended ones not yet pruned included.
    var sharedBacklogLength: Int { sharedBacklog.count }

    private func sendSharedBacklog() {
        while let call = sharedBacklog.popFirst() {
            guard stopWaiting(call) else { continue }
            if !sendShared(call) { return }
        }
        if let sharedRegistration { reactor?.setWantsWritable(sharedRegistration, false) }
    }

    /// Reply: [“”, "MDPC01", service, reply header, body…]
    private func drainShared() {
        while let socket = shared, let frames = socket.receive() {
            guard frames.count >= 4, frames[0].isEmpty, frames[1] == MDP.client,
                let header = try? HeaderCoding.decodeReplyHeader(frames[3])
            else {
                logger.warning("bus client dropped a reply it cannot match to a call")
                continue
            }
            guard let call = sharedCalls[header.requestId], call.service == frames[2] else {
                logger.debug("bus client dropped a reply to a call that ended", metadata: ["request.id": "\(header.requestId)"])
                continue
            }
            finish(call, .success(Array(frames[3...])))
        }
    }

    // MARK: Pool

    private func release(_ pooled: PooledSocket) {
        while let next = queue.popFirst() {
            guard stopWaiting(next) else { continue }
            assign(next, to: pooled)
            return
        }
        // An idle socket expects nothing (a timed-out socket is never reused), so it is not polled.
        if let registration = pooled.registration { reactor?.setPolled(registration, false) }
        idle.append(pooled)
    }

    private func discard(_ pooled: PooledSocket) {
        pooled.socket.close(linger: 0)
        socketCount -= 1
        while socketCount < maxSockets, !closed, let next = queue.popFirst() {
            guard stopWaiting(next) else { continue }
            openSocket(for: next)
        }
    }

    /// Timeout or cancellation: the call ends, and its socket (if any) goes with it.
    private func abandon(_ call: Call, _ error: any Error) {
        guard !call.finished else { return }
        if let pooled = call.socket {
            pooled.call = nil
            call.socket = nil
            discard(pooled)
        }
        finish(call, .failure(error))
    }

    private func finish(_ call: Call, _ result: Result<[Data], any Error>) {
        guard !call.finished else { return }
        call.finished = true
        // It stays in its backlog until pruned or popped, no longer counted.
        if call.waiting { countWaiting(-1) }
        if let timer = call.timer { reactor?.cancel(timer) }
        calls[call.id] = nil
        if let requestID = call.requestID, sharedCalls[requestID] === call { sharedCalls[requestID] = nil }
        call.continuation.resume(with: result)
    }

    // MARK: Closing

    func close() {
        guard !closed else { return }
        closed = true
        for call in Array(calls.values) {
            if let pooled = call.socket {
                pooled.call = nil
                pooled.socket.close(linger: 0)
            }
            call.socket = nil
            finish(call, .failure(BusError.closed))
        }
        calls = [:]
        queue = FIFO()
        shared?.close(linger: 0)
        shared = nil
        sharedRegistration = nil
        sharedCalls = [:]
        sharedBacklog = FIFO()
        for pooled in idle { pooled.socket.close(linger: 0) }
        idle = []
        socketCount = 0
        cancelledEarly = []
        reactor?.leave(self)
    }

    func contextClosing() {
        close()
    }
}
