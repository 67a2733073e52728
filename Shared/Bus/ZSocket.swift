import CZeroMQ
import Foundation

/// A libzmq socket, used only on the I/O thread that created it.
final class ZSocket {
    /// What became of a send attempted without blocking.
    enum SendOutcome {
        case sent
        /// No peer can take it now (HWM reached, or no connection with ZMQ_IMMEDIATE).
        case wouldBlock
        /// ROUTER_MANDATORY: the addressed peer is gone.
        case unreachable
        case failed(Int32)
    }

    let handle: UnsafeMutableRawPointer
    private unowned let reactor: Reactor
    private(set) var isClosed = false
    /// Set while the reactor watches this socket; told of every use of it.
    var registration: Registration?

    init(handle: UnsafeMutableRawPointer, reactor: Reactor) {
        self.handle = handle
        self.reactor = reactor
    }

    // MARK: Options

    func set(_ option: Int32, _ value: Int32) throws(BusError) {
        guard czmq_setsockopt_int(handle, option, value) == 0 else {
            throw BusError(.socketError, detail: "setsockopt \(option): \(zmqErrorText())")
        }
    }

    func set(_ option: Int32, bytes: Data) throws(BusError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else {
            throw BusError(.socketError, detail: "setsockopt \(option): \(zmqErrorText())")
        }
    }

    func set(_ option: Int32, text: String) throws(BusError) {
        try set(option, bytes: Data(text.utf8))
    }

    /// The options every connecting socket gets: quick reconnects, TCP keep-alive, no lingering.
    func applyConnectDefaults(linger: Int32 = 0) throws(BusError) {
        try set(ZMQ_LINGER, linger)
        try set(ZMQ_RECONNECT_IVL, 100)
        try set(ZMQ_RECONNECT_IVL_MAX, 1000)
        try set(ZMQ_TCP_KEEPALIVE, 1)
    }

    /// Makes this socket a CURVE client of the server whose key is in `curve`.
    func applyClientCurve(_ curve: ClientCurve?) throws(BusError) {
        guard let curve else { return }
        try set(ZMQ_CURVE_SERVERKEY, text: curve.serverPublicKey)
        try set(ZMQ_CURVE_PUBLICKEY, text: curve.keyPair.publicKey)
        try set(ZMQ_CURVE_SECRETKEY, text: curve.keyPair.secretKey)
    }

    /// Makes this socket a CURVE server whose clients are vetted by the ZAP handler for `domain`.
    func applyServerCurve(_ curve: BrokerCurve, domain: String) throws(BusError) {
        try set(ZMQ_CURVE_SERVER, 1)
        try set(ZMQ_CURVE_SECRETKEY, text: curve.keyPair.secretKey)
        try set(ZMQ_ZAP_DOMAIN, text: domain)
    }

    /// `ZMQ_FD`: the descriptor libzmq signals when the socket's state may have changed.
    func signalDescriptor() -> Int32 {
        var fd: Int32 = -1
        var size = MemoryLayout<Int32>.size
        let rc = zmq_getsockopt(handle, ZMQ_FD, &fd, &size)
        precondition(rc == 0, "getsockopt ZMQ_FD: \(zmqErrorText())")
        return fd
    }

    /// `ZMQ_EVENTS` (`ZMQ_POLLIN`, `ZMQ_POLLOUT`), after libzmq has processed the socket's commands.
    func events() -> Int32 {
        guard !isClosed else { return 0 }
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size) == 0 else { return 0 }
        return events
    }

    // MARK: Endpoints

    func connect(_ endpoint: String) throws(BusError) {
        guard zmq_connect(handle, endpoint) == 0 else {
            throw BusError(.invalidEndpoint, detail: "\(endpoint): \(zmqErrorText())")
        }
    }

    func bind(_ endpoint: String) throws(BusError) {
        guard zmq_bind(handle, endpoint) == 0 else {
            let code = zmq_errno()
            switch code {
            case EADDRINUSE, EADDRNOTAVAIL:
                throw BusError(.addressInUse, detail: "\(endpoint): \(zmqErrorText(code))")
            default:
                throw BusError(.invalidEndpoint, detail: "\(endpoint): \(zmqErrorText(code))")
            }
        }
    }

    /// The endpoint last bound, with a wildcard port resolved (`tcp://127.0.0.1:41234`).
    func lastEndpoint() -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        let rc = buffer.withUnsafeMutableBytes { zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, $0.baseAddress, &size) }
        guard rc == 0 else { return nil }
        return String(zeroTerminated: buffer)
    }

    // MARK: Messages

    /// Sends one message made of `head` then `body`, never blocking.
    ///
    /// ZeroMQ delivers multipart messages atomically: once the first frame is accepted the rest
    /// are too, so only the first frame's outcome can be "would block" or "unreachable".
    func send(_ head: [Data], body: ArraySlice<Data> = []) -> SendOutcome {
        guard !isClosed else { return .failed(ENOTSOCK) }
        defer { used() }
        let total = head.count + body.count
        var index = 0
        for frame in head {
            if let failure = sendFrame(frame, more: index + 1 < total, first: index == 0) { return failure }
            index += 1
        }
        for frame in body {
            if let failure = sendFrame(frame, more: index + 1 < total, first: index == 0) { return failure }
            index += 1
        }
        return .sent
    }

    private func sendFrame(_ frame: Data, more: Bool, first: Bool) -> SendOutcome? {
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
        if rc >= 0 { return nil }
        let code = zmq_errno()
        switch code {
        case EAGAIN where first: return .wouldBlock
        case EHOSTUNREACH where first: return .unreachable
        default: return .failed(code)
        }
    }

    /// Receives one whole message without blocking; nil when none is waiting.
    func receive() -> [Data]? {
        var ignored: String?
        return receive(userId: &ignored, wanted: false)
    }

    /// Receives one whole message and the `User-Id` its sender's ZAP handshake was given (the
    /// peer's CURVE public key on a broker socket); nil when no message is waiting.
    func receive(userId: inout String?) -> [Data]? {
        receive(userId: &userId, wanted: true)
    }

    private func receive(userId: inout String?, wanted: Bool) -> [Data]? {
        guard !isClosed else { return nil }
        let message = reactor.scratch
        var frames: [Data] = []
        while true {
            zmq_msg_init(message)
            let size = zmq_msg_recv(message, handle, ZMQ_DONTWAIT)
            if size < 0 {
                zmq_msg_close(message)
                if frames.isEmpty {
                    drained()
                    return nil
                }
                used()
                return frames
            }
            if size == 0 {
                frames.append(Data())
            } else {
                frames.append(Data(bytes: zmq_msg_data(message), count: Int(size)))
            }
            let more = zmq_msg_more(message)
            if wanted, more == 0 {
                userId = zmq_msg_gets(message, "User-Id").map { String(cString: $0) }
            }
            zmq_msg_close(message)
            if more == 0 {
                used()
                return frames
            }
        }
    }

    /// Moves one whole message to `target` without copying its frames; false when none is waiting.
    func forward(to target: ZSocket) -> Bool {
        guard !isClosed, !target.isClosed else { return false }
        let message = reactor.scratch
        defer { target.used() }
        var first = true
        // Once a frame is refused the rest of the message is dropped, so no half message leaves.
        var dropping = false
        while true {
            zmq_msg_init(message)
            if zmq_msg_recv(message, handle, ZMQ_DONTWAIT) < 0 {
                zmq_msg_close(message)
                if first { drained() } else { used() }
                return !first
            }
            let more = zmq_msg_more(message) != 0
            if !dropping {
                dropping = zmq_msg_send(message, target.handle, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0
            }
            // A failed send leaves ownership with us, a successful one leaves an empty message.
            zmq_msg_close(message)
            first = false
            if !more {
                used()
                return true
            }
        }
    }

    /// The socket was used: its state must be read before the I/O thread sleeps.
    private func used() {
        if let registration { reactor.needsCheck(registration) }
    }

    /// A receive found nothing, after libzmq processed every pending command.
    private func drained() {
        if let registration { reactor.checked(registration) }
    }

    /// Closes the socket; `linger` milliseconds let queued goodbyes leave in the background.
    func close(linger: Int32) {
        guard !isClosed else { return }
        isClosed = true
        czmq_setsockopt_int(handle, ZMQ_LINGER, linger)
        zmq_close(handle)
        reactor.forget(self)
    }
}
