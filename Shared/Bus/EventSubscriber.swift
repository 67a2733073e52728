import CZeroMQ
public import Foundation
public import Logging

/// Receives domain events from the broker's event exchange (a SUB socket connected to its XPUB).
///
/// Only events whose topic (first frame) starts with one of `prefixes` arrive; pass `[""]` for
/// every event. Up to 10,000 received events wait in `messages` for a slow consumer; beyond that
/// the newest are dropped, which the consumer notices as a gap in `seq` and repairs by replay.
public final class EventSubscriber: Sendable {
    private let loop: IOLoop
    private let engine: LoopBound<SubscriberEngine>
    /// Events as they arrive, each as its frames (topic first). Finishes when closed.
    public let messages: AsyncStream<[Data]>

    /// A subscriber connected to `endpoint`, the broker's events-out (XPUB) endpoint.
    public init(context: BusContext, endpoint: String, prefixes: [String], curve: ClientCurve?, logger: Logger) {
        let (stream, continuation) = AsyncStream.makeStream(of: [Data].self, bufferingPolicy: .bufferingOldest(10_000))
        self.messages = stream
        self.loop = context.loop
        let engine = LoopBound(
            SubscriberEngine(endpoint: endpoint, prefixes: prefixes, curve: curve, continuation: continuation, logger: logger),
            loop: context.loop)
        self.engine = engine
        let loop = context.loop
        loop.execute({ reactor in engine.value.open(reactor) }, ifClosed: { continuation.finish() })
        continuation.onTermination = { _ in
            loop.execute { _ in engine.value.close() }
        }
    }

    /// Adds `prefix` to the topics that arrive. ZeroMQ counts subscriptions: each `subscribe`
    /// needs its own `unsubscribe` before the topic stops.
    public func subscribe(_ prefix: String) {
        let engine = self.engine
        loop.execute { _ in engine.value.set(ZMQ_SUBSCRIBE, prefix) }
    }

    /// Takes back one `subscribe(prefix)`.
    public func unsubscribe(_ prefix: String) {
        let engine = self.engine
        loop.execute { _ in engine.value.set(ZMQ_UNSUBSCRIBE, prefix) }
    }

    /// Closes the socket and finishes `messages`.
    public func close() async {
        let engine = self.engine
        await loop.perform { _ in engine.value.close() }
    }
}

/// The subscriber's SUB socket, on the I/O thread.
final class SubscriberEngine: LoopParticipant {
    private let endpoint: String
    private let prefixes: [String]
    private let curve: ClientCurve?
    private let continuation: AsyncStream<[Data]>.Continuation
    private let logger: Logger
    private var reactor: Reactor?
    private var socket: ZSocket?
    private var closed = false

    init(
        endpoint: String, prefixes: [String], curve: ClientCurve?, continuation: AsyncStream<[Data]>.Continuation,
        logger: Logger
    ) {
        self.endpoint = endpoint
        self.prefixes = prefixes
        self.curve = curve
        self.continuation = continuation
        self.logger = logger
    }

    func open(_ reactor: Reactor) {
        guard !closed else { return }
        self.reactor = reactor
        do throws(BusError) {
            let socket = try reactor.openConnected(type: ZMQ_SUB, to: endpoint, curve: curve) { [prefixes] socket throws(BusError) in
                for prefix in prefixes { try socket.set(ZMQ_SUBSCRIBE, text: prefix) }
            }
            self.socket = socket
            reactor.watch(socket) { [unowned self] in drain() }
            reactor.join(self)
            if curve == nil {
                logger.warning("bus runs without CURVE: local development only", metadata: ["bus.endpoint": "\(endpoint)"])
            }
        } catch {
            logger.error("bus event subscriber could not connect", metadata: ["bus.error": "\(error)"])
            close()
        }
    }

    func set(_ option: Int32, _ prefix: String) {
        guard let socket else { return }
        do throws(BusError) {
            try socket.set(option, text: prefix)
        } catch {
            logger.error("bus event subscription not changed", metadata: ["bus.error": "\(error)"])
        }
    }

    private func drain() {
        guard let socket else { return }
        var budget = 4096
        while budget > 0, let frames = socket.receive() {
            budget -= 1
            continuation.yield(frames)
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        socket?.close(linger: 0)
        socket = nil
        reactor?.leave(self)
        continuation.finish()
    }

    func contextClosing() {
        close()
    }
}
