import CZeroMQ
import Foundation
import Logging
import Metrics
import Models

/// The broker's state and protocol logic, on the I/O thread: MDP/0.1 (RFC 7), MMI (RFC 8) and the
/// XSUB/XPUB event exchange.
final class BrokerEngine: LoopParticipant {
    /// A client request held until a worker of its service is free.
    private struct PendingRequest {
        let client: Data
        let body: ArraySlice<Data>
        let receivedAt: UInt64
    }

    private final class Service {
        let name: Data
        var requests = FIFO<PendingRequest>()
        /// Idle workers, longest-waiting first.
        var waiting: [Worker] = []
        var workerCount = 0
        var needsDispatch = false

        init(name: Data) { self.name = name }
    }

    private final class Worker {
        let identity: Data
        let service: Service
        /// The CURVE key it registered with; every later message under its identity must come with it.
        let key: String?
        var expiry: UInt64
        var lastSent: UInt64
        var isWaiting = false

        init(identity: Data, service: Service, key: String?, expiry: UInt64, now: UInt64) {
            self.identity = identity
            self.service = service
            self.key = key
            self.expiry = expiry
            self.lastSent = now
        }
    }

    private let requested: BusEndpoints
    private let curve: BrokerCurve?
    private let heartbeat: Heartbeat
    private let maxQueuedRequests: Int
    private let maxRequestAge: UInt64
    private let logger: Logger
    /// This broker's ZAP domain, unique so that several brokers may share a context.
    private let zapDomain = "bus-\(UUID().uuidString)"

    private var reactor: Reactor?
    private var router: ZSocket?
    private var eventsIn: ZSocket?
    private var eventsOut: ZSocket?
    private var heartbeatTimer: TimerID?
    /// When the heartbeat tick last ran, to notice that this thread itself was held up.
    private var lastTick: UInt64 = 0
    private var services: [Data: Service] = [:]
    private var workers: [Data: Worker] = [:]
    /// Workers dropped while serving a request (expired, unreachable, protocol error), by
    /// identity: the service they served and until when. A starved worker that was dropped still
    /// has a caller waiting; its late REPLY is delivered before it is told DISCONNECT.
    private var departed: [Data: (service: Data, key: String?, until: UInt64)] = [:]
    private var servicesToDispatch: [Service] = []
    /// The people's push topics (`stream.<id>`) some gateway subscribes to: the XPUB tells the
    /// first subscription to a topic and the last one going (its default, not verbose), also when
    /// a gateway's socket goes away, so this is exactly who has a stream connection somewhere.
    private var connectedStreams: Set<Data> = []
    private static let streamPrefix = Data(StreamTopic.prefix.utf8)
    /// Messages refused under a key's policy, by what was refused.
    private let deniedRegistrations = Counter(label: "bus_policy_denied_total", dimensions: [("what", "register")])
    private let deniedSystemClaims = Counter(label: "bus_policy_denied_total", dimensions: [("what", "system")])
    private let deniedEvents = Counter(label: "bus_policy_denied_total", dimensions: [("what", "publish")])

    init(
        endpoints: BusEndpoints, curve: BrokerCurve?, heartbeat: Heartbeat, maxQueuedRequests: Int,
        maxRequestAge: Duration, logger: Logger
    ) {
        self.requested = endpoints
        self.curve = curve
        self.heartbeat = heartbeat
        self.maxQueuedRequests = max(1, maxQueuedRequests)
        self.maxRequestAge = maxRequestAge.clampedNanoseconds
        self.logger = logger
    }

    // MARK: Start and stop

    /// Binds the three endpoints; `done` gets the bound endpoints or the first failure.
    ///
    /// A port released a moment ago by a broker of this process (a restart) can still be held
    /// by libzmq's background threads, so "address in use" is retried for half a second.
    func start(_ reactor: Reactor, done: @escaping (Result<BusEndpoints, BusError>) -> Void) {
        if router != nil {
            done(.failure(BusError(.socketError, detail: "the broker is already running")))
            return
        }
        self.reactor = reactor
        do {
            if let curve {
                try reactor.zap().register(domain: zapDomain, peers: curve.peers, logger: logger)
            } else {
                logger.warning("bus runs without CURVE: local development only")
            }
            let router = try makeServerSocket(ZMQ_ROUTER, reactor)
            // A send to a vanished peer fails at once (EHOSTUNREACH) instead of vanishing quietly.
            try router.set(ZMQ_ROUTER_MANDATORY, 1)
            // A worker reconnecting under its old identity takes the identity over; not on a
            // CURVE bus, where any admitted key could otherwise take over another process's worker
            // connection and be sent its requests (a worker whose reconnection is refused
            // registers again under a new identity within its heartbeat liveness).
            if curve == nil { try router.set(ZMQ_ROUTER_HANDOVER, 1) }
            self.router = router
            self.eventsIn = try makeServerSocket(ZMQ_XSUB, reactor)
            self.eventsOut = try makeServerSocket(ZMQ_XPUB, reactor)
        } catch {
            closeSockets()
            done(.failure(error))
            return
        }
        bind(reactor, giveUpAt: reactor.now() + 500_000_000, done: done)
    }

    private func makeServerSocket(_ type: Int32, _ reactor: Reactor) throws(BusError) -> ZSocket {
        let socket = try reactor.openSocket(type: type)
        // Long enough for DISCONNECTs to leave on stop, short enough not to hold up shutdown.
        try socket.set(ZMQ_LINGER, 100)
        if let curve { try socket.applyServerCurve(curve, domain: zapDomain) }
        return socket
    }

    private func bind(_ reactor: Reactor, giveUpAt: UInt64, done: @escaping (Result<BusEndpoints, BusError>) -> Void) {
        guard let router, let eventsIn, let eventsOut else {
            done(.failure(.closed))
            return
        }
        var bound = requested
        do {
            bound.mdp = try bindOnce(router, requested.mdp)
            bound.eventsIn = try bindOnce(eventsIn, requested.eventsIn)
            bound.eventsOut = try bindOnce(eventsOut, requested.eventsOut)
        } catch {
            if error == .addressInUse && reactor.now() < giveUpAt {
                reactor.schedule(after: 20_000_000) { [self] in bind(reactor, giveUpAt: giveUpAt, done: done) }
            } else {
                closeSockets()
                done(.failure(error))
            }
            return
        }
        reactor.watch(router) { [unowned self] in drainRouter() }
        reactor.watch(eventsIn) { [unowned self] in
            if curve == nil {
                forwardEvents(from: self.eventsIn, to: self.eventsOut)
            } else {
                forwardCheckedEvents()
            }
        }
        reactor.watch(eventsOut) { [unowned self] in forwardSubscriptions() }
        // Every publisher sends its live pushes here whoever listens, so a subscription is in
        // force as soon as this broker's XPUB has it: a gateway that saw its own probe come back
        // knows no push to that person can pass it by (StreamTopic).
        _ = eventsIn.send([Data([1]) + Data(StreamTopic.prefix.utf8)])
        reactor.join(self)
        scheduleHeartbeat()
        logger.info(
            "bus broker started",
            metadata: [
                "bus.endpoint": "\(bound.mdp)", "bus.events.in": "\(bound.eventsIn)",
                "bus.events.out": "\(bound.eventsOut)", "bus.curve": "\(curve != nil)",
            ])
        done(.success(bound))
    }

    /// Binds unless already bound (a retry after a partial success), returning the bound endpoint.
    private func bindOnce(_ socket: ZSocket, _ endpoint: String) throws(BusError) -> String {
        if let last = socket.lastEndpoint(), !last.isEmpty { return last }
        try socket.bind(endpoint)
        return socket.lastEndpoint() ?? endpoint
    }

    /// Says DISCONNECT to every worker (so they re-register at once with the next broker), closes.
    func stop() {
        guard let router else { return }
        for worker in workers.values {
            _ = router.send([worker.identity, MDP.empty, MDP.worker, MDP.disconnect])
        }
        closeSockets()
        reactor?.leave(self)
        logger.info("bus broker stopped", metadata: ["bus.endpoint": "\(requested.mdp)"])
    }

    func contextClosing() {
        closeSockets()
    }

    private func closeSockets() {
        router?.close(linger: 100)
        eventsIn?.close(linger: 0)
        eventsOut?.close(linger: 0)
        router = nil
        eventsIn = nil
        eventsOut = nil
        if let heartbeatTimer { reactor?.cancel(heartbeatTimer) }
        heartbeatTimer = nil
        if curve != nil, let zap = try? reactor?.zap() { zap.unregister(domain: zapDomain) }
        services = [:]
        workers = [:]
        departed = [:]
        servicesToDispatch = []
    }

    // MARK: Messages from the ROUTER

    private func drainRouter() {
        guard let router else { return }
        // Bounded so that the event exchange and timers get their turn under a flood; the poll
        // is level-triggered, so whatever is left is reported again at once.
        var budget = 4096
        while budget > 0 {
            // Every message on a CURVE socket carries the key its sender was admitted with.
            var key: String?
            guard let frames = curve == nil ? router.receive() : router.receive(userId: &key) else { break }
            budget -= 1
            var peer: BusPeerPolicy?
            if let curve {
                guard let key, let policy = curve.peers[key] else {
                    logger.warning("bus broker dropped a message from a key it has no policy for")
                    continue
                }
                peer = policy
            }
            handle(frames, from: peer, key: key)
        }
        // Dispatching after the batch lets a worker's REPLY+DISCONNECT pair arrive together, so
        // a stopping worker is not handed a new request between the two.
        let pending = servicesToDispatch
        servicesToDispatch.removeAll(keepingCapacity: true)
        for service in pending {
            service.needsDispatch = false
            dispatch(service)
        }
    }

    /// `peer` is the sender's policy on a CURVE bus, nil without CURVE (nothing is checked).
    private func handle(_ frames: [Data], from peer: BusPeerPolicy?, key: String?) {
        guard frames.count >= 3, frames[1].isEmpty else {
            logger.warning("bus broker dropped a message without an MDP envelope")
            return
        }
        let header = frames[2]
        if header == MDP.client {
            handleClient(frames, from: peer)
        } else if header == MDP.worker {
            handleWorker(frames, from: peer, key: key)
        } else {
            logger.warning("bus broker dropped a message with an unknown protocol header")
        }
    }

    /// [client, "", "MDPC01", service, body…]
    private func handleClient(_ frames: [Data], from peer: BusPeerPolicy?) {
        guard frames.count >= 4 else {
            logger.warning("bus broker dropped a client request without a service name")
            return
        }
        let client = frames[0]
        let name = frames[3]
        var body = frames[4...]
        if name.hasPrefix(MDP.mmiPrefix) {
            answerMMI(client: client, service: name, body: body)
            return
        }
        if let peer {
            guard let checked = checkedBody(body, client: client, service: name, from: peer) else { return }
            body = checked
        }
        let service = requireService(name)
        guard service.requests.count < maxQueuedRequests else {
            logger.warning(
                "bus broker dropped a request: the service's queue is full",
                metadata: ["bus.service": "\(String(decoding: name, as: UTF8.self))"])
            return
        }
        service.requests.append(PendingRequest(client: client, body: body, receivedAt: monotonicNanoseconds()))
        markForDispatch(service)
    }

    /// A typed request's body with the sender's identity written into its header (`peer`), or nil
    /// after refusing it because its header claims the `system` role the sender may not claim. A
    /// body whose first frame is not a request header (a foreign MDP peer's) passes unchanged:
    /// workers that read headers refuse it themselves.
    private func checkedBody(_ body: ArraySlice<Data>, client: Data, service: Data, from peer: BusPeerPolicy)
        -> ArraySlice<Data>?
    {
        guard let first = body.first, var header = try? HeaderCoding.decodeRequestHeader(first) else { return body }
        if header.caller.has(.system) && !peer.claimsSystem {
            deniedSystemClaims.increment()
            logger.warning(
                "bus broker refused a call: its key may not claim the system role",
                metadata: ["bus.peer": "\(peer.identity)", "bus.operation": "\(header.operation)"])
            let refusal = ReplyHeader(
                requestId: header.requestId,
                error: ServiceError(.forbidden, "this process may not make calls as the platform"))
            _ = router?.send([client, MDP.empty, MDP.client, service, HeaderCoding.encode(refusal), Data("null".utf8)])
            return nil
        }
        header.peer = peer.identity
        var rewritten = Array(body)
        rewritten[0] = HeaderCoding.encode(header)
        return rewritten[...]
    }

    /// [worker, "", "MDPW01", command, …]
    private func handleWorker(_ frames: [Data], from peer: BusPeerPolicy?, key: String?) {
        let identity = frames[0]
        let known = workers[identity]
        // A worker's identity is its own: a message under it from another key is never taken as
        // the worker's (nor answered, which would reach the sender, not the worker).
        if curve != nil, let registeredKey = known?.key ?? departed[identity]?.key, registeredKey != key {
            deniedRegistrations.increment()
            logger.warning(
                "bus broker dropped a worker message sent under another process's identity",
                metadata: ["bus.peer": "\(peer?.identity ?? "-")", "bus.worker": "\(workerName(identity))"])
            return
        }
        guard frames.count >= 4, let command = MDP.Command(frame: frames[3]) else {
            protocolError(identity, known, "invalid worker command")
            return
        }
        let now = monotonicNanoseconds()
        known?.expiry = now + heartbeat.expiryNanoseconds
        switch command {
        case .ready:
            guard known == nil else {
                protocolError(identity, known, "READY from a worker that is already registered")
                return
            }
            guard frames.count >= 5, !frames[4].isEmpty, !frames[4].hasPrefix(MDP.mmiPrefix) else {
                protocolError(identity, nil, "READY without a valid service name")
                return
            }
            if let peer, !peer.services.contains(String(decoding: frames[4], as: UTF8.self)) {
                deniedRegistrations.increment()
                logger.warning(
                    "bus broker refused a worker: its key may not register as this service",
                    metadata: [
                        "bus.peer": "\(peer.identity)", "bus.service": "\(String(decoding: frames[4], as: UTF8.self))",
                    ])
                protocolError(identity, nil, "READY for a service this key may not serve")
                return
            }
            let service = requireService(frames[4])
            departed[identity] = nil
            let worker = Worker(
                identity: identity, service: service, key: key, expiry: now + heartbeat.expiryNanoseconds, now: now)
            workers[identity] = worker
            service.workerCount += 1
            // MDP/0.1 has no acknowledgement of READY; a heartbeat at once tells the worker it is
            // registered (its readiness) without waiting a whole interval.
            if case .sent? = router?.send([identity, MDP.empty, MDP.worker, MDP.heartbeat]) { worker.lastSent = now }
            logger.debug(
                "bus worker registered",
                metadata: ["bus.service": "\(String(decoding: service.name, as: UTF8.self))", "bus.worker": "\(workerName(identity))"])
            makeWaiting(worker)
        case .reply:
            guard let worker = known else {
                if let gone = departed.removeValue(forKey: identity), frames.count >= 6, frames[5].isEmpty {
                    _ = router?.send([frames[4], MDP.empty, MDP.client, gone.service], body: frames[6...])
                }
                protocolError(identity, nil, "REPLY from an unregistered worker")
                return
            }
            // [worker, "", "MDPW01", REPLY, client, "", body…]
            guard frames.count >= 6, frames[5].isEmpty else {
                protocolError(identity, worker, "REPLY without a client envelope")
                return
            }
            let outcome = router?.send([frames[4], MDP.empty, MDP.client, worker.service.name], body: frames[6...])
            if case .unreachable? = outcome {
                logger.debug("bus broker dropped a reply: the client is gone")
            }
            if !worker.isWaiting { makeWaiting(worker) }
        case .heartbeat:
            if known == nil { protocolError(identity, nil, "HEARTBEAT from an unregistered worker") }
        case .disconnect:
            if let worker = known {
                logger.debug("bus worker disconnected", metadata: ["bus.worker": "\(workerName(identity))"])
                delete(worker, sayDisconnect: false)
            }
        case .request:
            protocolError(identity, known, "REQUEST sent by a worker")
        }
    }

    /// RFC 7: a protocol error ends the conversation; the worker is told DISCONNECT and forgotten.
    private func protocolError(_ identity: Data, _ worker: Worker?, _ what: String) {
        logger.debug("bus worker protocol error: \(what)", metadata: ["bus.worker": "\(workerName(identity))"])
        if let worker {
            delete(worker, sayDisconnect: true)
        } else {
            _ = router?.send([identity, MDP.empty, MDP.worker, MDP.disconnect])
        }
    }

    // MARK: Services and workers

    private func requireService(_ name: Data) -> Service {
        if let service = services[name] { return service }
        let service = Service(name: name)
        services[name] = service
        return service
    }

    private func makeWaiting(_ worker: Worker) {
        worker.isWaiting = true
        worker.service.waiting.append(worker)
        markForDispatch(worker.service)
    }

    private func markForDispatch(_ service: Service) {
        guard !service.needsDispatch else { return }
        service.needsDispatch = true
        servicesToDispatch.append(service)
    }

    private func delete(_ worker: Worker, sayDisconnect: Bool) {
        guard workers.removeValue(forKey: worker.identity) != nil else { return }
        if sayDisconnect {
            _ = router?.send([worker.identity, MDP.empty, MDP.worker, MDP.disconnect])
        }
        if worker.isWaiting, let index = worker.service.waiting.firstIndex(where: { $0 === worker }) {
            worker.service.waiting.remove(at: index)
        }
        if !worker.isWaiting && departed.count < maxQueuedRequests {
            departed[worker.identity] = (worker.service.name, worker.key, monotonicNanoseconds() &+ maxRequestAge)
        }
        worker.isWaiting = false
        worker.service.workerCount -= 1
    }

    /// Hands queued requests to idle workers, oldest request to longest-idle worker.
    private func dispatch(_ service: Service) {
        guard let router else { return }
        let now = monotonicNanoseconds()
        dropStaleRequests(service, now: now)
        while !service.waiting.isEmpty, let request = service.requests.popFirst() {
            // Still flagged waiting until the REQUEST is out, so dropping it leaves no record.
            let worker = service.waiting.removeFirst()
            if worker.expiry < now {
                service.requests.prepend(request)
                logger.info("bus worker expired", metadata: ["bus.worker": "\(workerName(worker.identity))"])
                delete(worker, sayDisconnect: false)
                continue
            }
            let outcome = router.send(
                [worker.identity, MDP.empty, MDP.worker, MDP.request, request.client, MDP.empty], body: request.body)
            switch outcome {
            case .sent:
                worker.isWaiting = false
                worker.lastSent = now
            case .unreachable, .wouldBlock, .failed:
                // kill -9 closes the worker's connection: drop it and try the next one.
                service.requests.prepend(request)
                logger.info("bus worker unreachable, dropped", metadata: ["bus.worker": "\(workerName(worker.identity))"])
                delete(worker, sayDisconnect: false)
            }
        }
    }

    private func dropStaleRequests(_ service: Service, now: UInt64) {
        var dropped = 0
        while let oldest = service.requests.first, now &- oldest.receivedAt > maxRequestAge {
            _ = service.requests.popFirst()
            dropped += 1
        }
        if dropped > 0 {
            logger.warning(
                "bus broker dropped requests that waited too long for a worker",
                metadata: ["bus.service": "\(String(decoding: service.name, as: UTF8.self))", "bus.dropped": "\(dropped)"])
        }
    }

    // MARK: Heartbeats

    private func scheduleHeartbeat() {
        lastTick = monotonicNanoseconds()
        heartbeatTimer = reactor?.schedule(after: heartbeat.intervalNanoseconds) { [unowned self] in
            heartbeatTick()
        }
    }

    /// Expires silent workers, heartbeats the rest (RFC 7: both peers heartbeat at regular
    /// intervals, busy or idle), and forgets stale requests and empty services.
    private func heartbeatTick() {
        // Read what is waiting first: if this thread was held up, heartbeats may sit unread.
        drainRouter()
        guard let router else { return }
        let now = monotonicNanoseconds()
        // A tick an interval late means this thread was held up: workers get a fresh allowance
        // rather than being judged by a silence that was ours.
        if now &- lastTick > 2 * heartbeat.intervalNanoseconds {
            for worker in workers.values { worker.expiry = max(worker.expiry, now + heartbeat.expiryNanoseconds) }
        }
        for worker in Array(workers.values) {
            if worker.expiry < now {
                logger.info("bus worker expired", metadata: ["bus.worker": "\(workerName(worker.identity))"])
                delete(worker, sayDisconnect: false)
            } else if now &- worker.lastSent >= heartbeat.intervalNanoseconds {
                switch router.send([worker.identity, MDP.empty, MDP.worker, MDP.heartbeat]) {
                case .sent: worker.lastSent = now
                case .unreachable, .wouldBlock, .failed: delete(worker, sayDisconnect: false)
                }
            }
        }
        departed = departed.filter { $0.value.until > now }
        for (name, service) in services {
            dropStaleRequests(service, now: now)
            if service.workerCount == 0 && service.requests.isEmpty {
                services[name] = nil
            }
        }
        scheduleHeartbeat()
    }

    // MARK: MMI (RFC 8) and its extension

    /// `mmi.service`: "200" if the service has live workers, else "404"; `mmi.workers`: JSON
    /// `{"instances": I, "workers": W}`; `mmi.stream`: "200" if the person (a lower-case account
    /// id) has a stream connection on some gateway, else "404"; any other `mmi.*`: "501".
    private func answerMMI(client: Data, service: Data, body: ArraySlice<Data>) {
        let name = body.first ?? Data()
        let answer: String
        if service == MDP.mmiService {
            answer = (services[name]?.workerCount ?? 0) > 0 ? "200" : "404"
        } else if service == MDP.mmiWorkers {
            let status = status(of: name)
            answer = "{\"instances\":\(status.instances),\"workers\":\(status.workers)}"
        } else if service == MDP.mmiStream {
            answer = connectedStreams.contains(Self.streamPrefix + name) ? "200" : "404"
        } else {
            answer = "501"
        }
        _ = router?.send([client, MDP.empty, MDP.client, service, Data(answer.utf8)])
    }

    private func status(of name: Data) -> Broker.ServiceStatus {
        guard let service = services[name] else { return Broker.ServiceStatus(instances: 0, workers: 0, queuedRequests: 0) }
        var instances = Set<Data>()
        for worker in workers.values where worker.service === service {
            instances.insert(Self.instance(of: worker.identity))
        }
        return Broker.ServiceStatus(
            instances: instances.count, workers: service.workerCount, queuedRequests: service.requests.count)
    }

    /// The text before the last "/" of "<instanceId>/<slot>"; a foreign identity is its own instance.
    static func instance(of identity: Data) -> Data {
        guard let slash = identity.lastIndex(of: UInt8(ascii: "/")) else { return identity }
        return identity[identity.startIndex..<slash]
    }

    func snapshot() -> [String: Broker.ServiceStatus] {
        var result: [String: Broker.ServiceStatus] = [:]
        for (name, service) in services where service.workerCount > 0 || !service.requests.isEmpty {
            result[String(decoding: name, as: UTF8.self)] = status(of: name)
        }
        return result
    }

    /// A worker's identity for logs: without its random part (after `~`), which keeps it unguessable.
    private func workerName(_ identity: Data) -> String {
        if let text = String(data: identity, encoding: .utf8), text.allSatisfy({ $0.isASCII && !$0.isNewline }) {
            return String(text.prefix { $0 != "~" })
        }
        return identity.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Events

    /// On a CURVE bus, XSUB → XPUB forwards only events their sender may publish: the topic
    /// `<producer>.…` and the metadata's producer must both be the producer the sender's key owns,
    /// so no consumer is handed an event (or a tail heartbeat) in another service's name.
    private func forwardCheckedEvents() {
        guard let curve, let eventsIn, let eventsOut else { return }
        var budget = 4096
        while budget > 0 {
            var key: String?
            guard let frames = eventsIn.receive(userId: &key) else { return }
            budget -= 1
            let policy = key.flatMap { curve.peers[$0] }
            guard let policy, Self.may(policy, publish: frames) else {
                deniedEvents.increment()
                logger.warning(
                    "bus broker dropped an event its sender may not publish",
                    metadata: [
                        "bus.peer": "\(policy?.identity ?? "-")",
                        "bus.topic": "\(frames.first.map { String(decoding: $0.prefix(100), as: UTF8.self) } ?? "")",
                    ])
                continue
            }
            _ = eventsOut.send(frames)
        }
    }

    /// Whether a peer with `policy` may publish `frames`: a live push (topic, payload) when it
    /// pushes to streams, else an event of its own producer.
    static func may(_ policy: BusPeerPolicy, publish frames: [Data]) -> Bool {
        if let topic = frames.first, topic.starts(with: Data(StreamTopic.prefix.utf8)) {
            return policy.pushesToStreams && frames.count == 2
        }
        guard let producer = policy.producer else { return false }
        return event(frames, isFrom: producer)
    }

    /// Whether an event message (topic, metadata, payload) or a tail heartbeat (topic, sequence)
    /// names `producer` throughout.
    static func event(_ frames: [Data], isFrom producer: String) -> Bool {
        guard let topic = frames.first, topic.starts(with: Data("\(producer).".utf8)) else { return false }
        if frames.count == 2 { return topic == Data(Events.heartbeatTopic(for: producer).utf8) }
        guard frames.count == 3, let metadata = JSONScanner.object(frames[1]),
            case .string(let named)? = metadata["producer"]
        else { return false }
        return named == producer
    }

    /// XPUB → XSUB: subscriptions upstream, noting the people's push topics on the way.
    private func forwardSubscriptions() {
        guard let source = eventsOut, let target = eventsIn else { return }
        var budget = 4096
        while budget > 0, let frames = source.receive() {
            budget -= 1
            if frames.count == 1, let kind = frames[0].first, kind <= 1 {
                let topic = frames[0].dropFirst()
                if topic.starts(with: Self.streamPrefix) {
                    if kind == 1 { connectedStreams.insert(Data(topic)) } else { connectedStreams.remove(Data(topic)) }
                }
            }
            _ = target.send(frames)
        }
    }

    /// XSUB → XPUB: messages downstream, as they are.
    private func forwardEvents(from source: ZSocket?, to target: ZSocket?) {
        guard let source, let target else { return }
        var budget = 4096
        while budget > 0, source.forward(to: target) {
            budget -= 1
        }
    }
}
