import CZeroMQ
import Glibc
import Logging

/// Something that owns sockets on the I/O thread and must let go of them when the context closes.
protocol LoopParticipant: AnyObject {
    /// The context is shutting down: close sockets without goodbyes and fail whoever waits.
    func contextClosing()
}

/// A socket watched by the poll loop, with what to do when it becomes readable or writable.
final class Registration {
    let socket: ZSocket
    /// The socket's `ZMQ_FD`: readable when libzmq has signalled the socket's mailbox.
    let signalFD: Int32
    let onReadable: () -> Void
    var onWritable: (() -> Void)?
    fileprivate(set) var active = true
    fileprivate(set) var wantsWritable = false
    /// Whether the socket is in the poll set; a socket that expects nothing is left out.
    fileprivate(set) var polled = true
    /// The socket was used since its state was last read, so its signal may have been consumed.
    fileprivate var needsCheck = false

    fileprivate init(socket: ZSocket, signalFD: Int32, onReadable: @escaping () -> Void) {
        self.socket = socket
        self.signalFD = signalFD
        self.onReadable = onReadable
    }
}

/// The I/O thread's state: the poll set, the timers, every open socket. Only used on that thread.
final class Reactor {
    /// Wakes the poll loop; read here to reset it.
    private let wakeFD: Int32
    let context: UnsafeMutableRawPointer
    let logger: Logger
    /// One receive buffer for every socket: the thread handles one frame at a time.
    let scratch: UnsafeMutablePointer<zmq_msg_t>

    private var registrations: [ObjectIdentifier: Registration] = [:]
    private var pollItems: [pollfd] = []
    private var pollOwners: [Registration?] = []
    private var pollSetDirty = true
    /// Registrations whose `ZMQ_EVENTS` must be read before the thread may sleep.
    private var toCheck: [Registration] = []
    private var checking: [Registration] = []

    private var timers = TimerHeap()
    private var participants: [ObjectIdentifier: any LoopParticipant] = [:]
    private var openSockets: [ObjectIdentifier: ZSocket] = [:]
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    private(set) var shutdownRequested = false
    private var zapHandler: ZAPHandler?

    init(context: UnsafeMutableRawPointer, wakeFD: Int32, logger: Logger) {
        self.context = context
        self.wakeFD = wakeFD
        self.logger = logger
        self.scratch = .allocate(capacity: 1)
    }

    deinit {
        scratch.deallocate()
    }

    // MARK: Sockets

    /// A new socket of `type` in this context, tracked so that shutdown can close it.
    func openSocket(type: Int32) throws(BusError) -> ZSocket {
        guard let handle = zmq_socket(context, type) else {
            throw BusError(.socketError, detail: "zmq_socket: \(zmqErrorText())")
        }
        let socket = ZSocket(handle: handle, reactor: self)
        openSockets[ObjectIdentifier(socket)] = socket
        return socket
    }

    /// A socket of `type` connected to `endpoint`: the connect defaults, CURVE when `curve` is set,
    /// then `configure` for what this socket needs besides, all before it connects. Closed again
    /// if any step fails.
    func openConnected(
        type: Int32, to endpoint: String, curve: ClientCurve?,
        configure: (ZSocket) throws(BusError) -> Void = { _ throws(BusError) in }
    ) throws(BusError) -> ZSocket {
        let socket = try openSocket(type: type)
        do {
            try socket.applyConnectDefaults()
            try socket.applyClientCurve(curve)
            try configure(socket)
            try socket.connect(endpoint)
        } catch {
            socket.close(linger: 0)
            throw error
        }
        return socket
    }

    /// Called by `ZSocket.close`; stops watching it too.
    func forget(_ socket: ZSocket) {
        openSockets[ObjectIdentifier(socket)] = nil
        if let registration = registrations.removeValue(forKey: ObjectIdentifier(socket)) {
            registration.active = false
            pollSetDirty = true
        }
        socket.registration = nil
    }

    /// Watches `socket`; `onReadable` should drain it (receive until EAGAIN).
    @discardableResult
    func watch(_ socket: ZSocket, polled: Bool = true, onReadable: @escaping () -> Void) -> Registration {
        let registration = Registration(socket: socket, signalFD: socket.signalDescriptor(), onReadable: onReadable)
        registration.polled = polled
        registrations[ObjectIdentifier(socket)] = registration
        socket.registration = registration
        pollSetDirty = true
        // Messages may already wait (a socket watched after it was used).
        needsCheck(registration)
        return registration
    }

    /// Puts the socket in the poll set or takes it out; messages wait in the socket meanwhile.
    func setPolled(_ registration: Registration, _ polled: Bool) {
        guard registration.active, registration.polled != polled else { return }
        registration.polled = polled
        pollSetDirty = true
        // Signals consumed while it was out of the set are not repeated: read its state.
        if polled { needsCheck(registration) }
    }

    /// Adds or removes POLLOUT interest, for a send that found no peer ready.
    func setWantsWritable(_ registration: Registration, _ wants: Bool) {
        guard registration.active, registration.wantsWritable != wants else { return }
        registration.wantsWritable = wants
        pollSetDirty = true
        if wants { needsCheck(registration) }
    }

    /// Called by `ZSocket` after every use: libzmq may have taken the socket's signal while
    /// processing its commands, so its state must be read again before the thread sleeps.
    func needsCheck(_ registration: Registration) {
        guard registration.active, !registration.needsCheck else { return }
        registration.needsCheck = true
        toCheck.append(registration)
    }

    /// Called by `ZSocket` when a receive found nothing: libzmq processed every command first,
    /// so the socket will signal again when anything arrives.
    func checked(_ registration: Registration) {
        registration.needsCheck = false
    }

    // MARK: Participants and shutdown

    func join(_ participant: any LoopParticipant) {
        participants[ObjectIdentifier(participant)] = participant
    }

    func leave(_ participant: any LoopParticipant) {
        participants[ObjectIdentifier(participant)] = nil
    }

    func requestShutdown(_ waiter: CheckedContinuation<Void, Never>) {
        shutdownWaiters.append(waiter)
        shutdownRequested = true
    }

    /// Tells every participant, then closes whatever socket is still open.
    func closeEverything() {
        let leaving = participants.values
        participants = [:]
        for participant in leaving {
            participant.contextClosing()
        }
        zapHandler?.close()
        zapHandler = nil
        for socket in openSockets.values {
            socket.close(linger: 0)
        }
        timers = TimerHeap()
    }

    func completeShutdown() {
        let waiters = shutdownWaiters
        shutdownWaiters = []
        for waiter in waiters {
            waiter.resume()
        }
    }

    /// The context's ZAP handler, bound on first use (before any CURVE server socket binds).
    func zap() throws(BusError) -> ZAPHandler {
        if let zapHandler { return zapHandler }
        let handler = try ZAPHandler(reactor: self)
        zapHandler = handler
        return handler
    }

    // MARK: Timers

    /// Nanoseconds on the monotonic clock.
    func now() -> UInt64 { monotonicNanoseconds() }

    /// Runs `fire` on this thread at or after `deadline`, unless cancelled first.
    @discardableResult
    func schedule(at deadline: UInt64, _ fire: @escaping () -> Void) -> TimerID {
        timers.schedule(at: deadline, fire)
    }

    @discardableResult
    func schedule(after nanoseconds: UInt64, _ fire: @escaping () -> Void) -> TimerID {
        timers.schedule(at: now() &+ nanoseconds, fire)
    }

    func cancel(_ timer: TimerID) {
        timers.cancel(timer)
    }

    func runDueTimers() {
        let current = now()
        while let fire = timers.popDue(now: current) {
            fire()
        }
    }

    /// How long `poll` may sleep: until the nearest timer, rounded up; -1 for ever.
    func pollTimeoutMilliseconds() -> Int {
        guard let next = timers.nextDeadline else { return -1 }
        let current = now()
        if next <= current { return 0 }
        return Int((next - current + 999_999) / 1_000_000)
    }

    // MARK: Polling

    /// Waits until a watched socket or the wake-up eventfd signals, or the timeout, then runs the
    /// callbacks of the sockets that are ready.
    ///
    /// libzmq's `zmq_poll` reads `ZMQ_EVENTS` of every socket in the set, twice per pass, at two
    /// system calls each. Instead this polls the sockets' `ZMQ_FD`s and reads `ZMQ_EVENTS` only
    /// of sockets that signalled or were used since they were last read (zmq_getsockopt(3): a
    /// socket used by the application may have become ready without signalling).
    func poll(timeoutMilliseconds: Int) {
        if pollSetDirty { rebuildPollSet() }
        let ready = pollDescriptors(timeoutMilliseconds: toCheck.isEmpty ? Int32(clamping: timeoutMilliseconds) : 0)
        if ready > 0 {
            if pollItems[0].revents != 0 {
                var counter: UInt64 = 0
                _ = withUnsafeMutableBytes(of: &counter) { read(wakeFD, $0.baseAddress, 8) }
            }
            for index in 1..<pollItems.count where pollItems[index].revents != 0 {
                if let registration = pollOwners[index] { needsCheck(registration) }
            }
        }
        // Callbacks may close sockets or change interests; they only mark the poll set dirty,
        // and inactive registrations are skipped, so the arrays stay valid during the pass.
        swap(&toCheck, &checking)
        for registration in checking where registration.active && registration.needsCheck {
            registration.needsCheck = false
            guard registration.polled || registration.wantsWritable else { continue }
            let events = registration.socket.events()
            if events & ZMQ_POLLIN != 0, registration.polled, registration.active {
                registration.onReadable()
            }
            if events & ZMQ_POLLOUT != 0, registration.active, registration.wantsWritable {
                registration.onWritable?()
            }
        }
        checking.removeAll(keepingCapacity: true)
    }

    /// Before sleeping: polls without waiting, yielding the CPU in between, for up to
    /// `nanoseconds`; true as soon as a socket was ready (and handled) or a command arrived.
    /// `sched_yield` between polls gives way to any other runnable thread on this core.
    func pollBriefly(for nanoseconds: UInt64, commandsWaiting: () -> Bool) -> Bool {
        guard toCheck.isEmpty else { return false }
        // Never past the next timer.
        let until = min(now() &+ nanoseconds, timers.nextDeadline ?? .max)
        repeat {
            sched_yield()
            if commandsWaiting() { return true }
            if pollSetDirty { rebuildPollSet() }
            if pollDescriptors(timeoutMilliseconds: 0) > 0 {
                poll(timeoutMilliseconds: 0)
                return true
            }
        } while now() < until
        return false
    }

    /// `poll(2)` over the wake-up eventfd and the watched sockets' descriptors.
    private func pollDescriptors(timeoutMilliseconds: Int32) -> Int32 {
        pollItems.withUnsafeMutableBufferPointer { items in
            Glibc.poll(items.baseAddress, nfds_t(items.count), timeoutMilliseconds)
        }
    }

    private func rebuildPollSet() {
        pollItems.removeAll(keepingCapacity: true)
        pollOwners.removeAll(keepingCapacity: true)
        pollItems.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
        pollOwners.append(nil)
        // libzmq signals readable and writable alike through the one descriptor.
        for registration in registrations.values where registration.polled || registration.wantsWritable {
            pollItems.append(pollfd(fd: registration.signalFD, events: Int16(POLLIN), revents: 0))
            pollOwners.append(registration)
        }
        pollSetDirty = false
    }
}

/// The monotonic clock in nanoseconds: cheap (vDSO) and immune to wall-clock steps.
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}

/// The text of the calling thread's last libzmq error.
func zmqErrorText(_ code: Int32 = zmq_errno()) -> String {
    String(cString: zmq_strerror(code))
}

extension Duration {
    /// Whole nanoseconds, clamped to zero for negative durations and to ~292 years above.
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        if seconds >= 9_000_000_000 { return UInt64(Int64.max) }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
