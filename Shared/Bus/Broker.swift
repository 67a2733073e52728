public import Logging
import Synchronization

/// The MDP/0.1 broker (ZeroMQ RFC 7) with MMI (RFC 8) and the event exchange.
///
/// One ROUTER socket serves clients and workers; requests for a service are queued (bounded,
/// and dropped once too old) until one of its workers is idle, then handed to the worker that
/// has waited longest. Workers that fall silent for `liveness × interval`, or whose connection
/// is gone, are dropped. An XSUB/XPUB pair, driven by the same I/O thread, forwards domain
/// events from publishers to subscribers and subscriptions the other way.
///
/// Besides `mmi.service` the broker answers `mmi.workers` (our extension): the body is a
/// service name, the reply body is JSON `{"instances": I, "workers": W}`, where W counts the
/// service's registered worker sockets and I the distinct instances among them (the text of
/// the worker identity before its last "/"; a worker with any other identity counts as one).
public final class Broker: Sendable {
    /// What the broker knows about one service at a moment.
    public struct ServiceStatus: Sendable, Equatable {
        /// Distinct processes with workers registered.
        public var instances: Int
        /// Registered worker sockets (slots), busy or idle.
        public var workers: Int
        /// Requests waiting for an idle worker.
        public var queuedRequests: Int

        /// A status value.
        public init(instances: Int, workers: Int, queuedRequests: Int) {
            self.instances = instances
            self.workers = workers
            self.queuedRequests = queuedRequests
        }
    }

    private let loop: IOLoop
    private let engine: LoopBound<BrokerEngine>
    private let bound: Mutex<BusEndpoints>
    private let listening = Atomic<Bool>(false)
    private let logger: Logger

    /// A broker that will listen on `endpoints`; nothing is bound until `start()`.
    ///
    /// - Parameters:
    ///   - curve: CURVE keys and the allow-list; nil runs in the clear (local development only).
    ///   - maxQueuedRequests: requests held per service while no worker is idle; more are dropped.
    ///   - maxRequestAge: a held request older than this is dropped (its caller has given up).
    public init(
        context: BusContext, endpoints: BusEndpoints, curve: BrokerCurve?, heartbeat: Heartbeat = .init(),
        maxQueuedRequests: Int = 10_000, maxRequestAge: Duration = .seconds(30), logger: Logger
    ) {
        self.loop = context.loop
        self.logger = logger
        self.bound = Mutex(endpoints)
        self.engine = LoopBound(
            BrokerEngine(
                endpoints: endpoints, curve: curve, heartbeat: heartbeat, maxQueuedRequests: maxQueuedRequests,
                maxRequestAge: maxRequestAge, logger: logger),
            loop: context.loop)
    }

    /// The endpoints as bound: wildcard ports (`tcp://127.0.0.1:*`) resolved once started.
    public var endpoints: BusEndpoints { bound.withLock { $0 } }

    /// Whether the broker has bound its endpoints and not stopped since: its readiness.
    public var isListening: Bool { listening.load(ordering: .acquiring) }

    /// Binds all three endpoints; throws `BusError.addressInUse` if a port is taken,
    /// `BusError.invalidEndpoint` for an endpoint libzmq cannot bind.
    public func start() async throws {
        let engine = self.engine
        let endpoints = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<BusEndpoints, any Error>) in
            loop.execute(
                { reactor in engine.value.start(reactor) { continuation.resume(with: $0.mapError { $0 }) } },
                ifClosed: { continuation.resume(throwing: BusError.closed) })
        }
        bound.withLock { $0 = endpoints }
        listening.store(true, ordering: .releasing)
        logger.info(
            "broker listening",
            metadata: [
                "bus.mdp": "\(endpoints.mdp)", "bus.events_in": "\(endpoints.eventsIn)",
                "bus.events_out": "\(endpoints.eventsOut)",
            ])
    }

    /// Tells every worker DISCONNECT (so they re-register with the next broker at once) and
    /// closes the sockets. Queued requests are dropped; their callers time out.
    public func stop() async {
        listening.store(false, ordering: .releasing)
        let engine = self.engine
        await loop.perform { _ in engine.value.stop() }
    }

    /// Per service with workers or queued requests: instances, worker sockets, queued requests.
    public func snapshot() async -> [String: ServiceStatus] {
        let engine = self.engine
        return await withCheckedContinuation { (continuation: CheckedContinuation<[String: ServiceStatus], Never>) in
            loop.execute(
                { _ in continuation.resume(returning: engine.value.snapshot()) },
                ifClosed: { continuation.resume(returning: [:]) })
        }
    }
}
