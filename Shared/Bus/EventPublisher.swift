import CZeroMQ
public import Foundation
public import Logging

/// Publishes domain events to the broker's event exchange (a PUB socket connected to its XSUB).
///
/// PUB/SUB drops what nobody is subscribed to yet and what a slow subscriber cannot take; the
/// platform's outbox relay and replay make up for that (DESIGN.md, "Events, with nothing lost").
/// The socket connects as soon as the publisher is made, so subscriptions reach it early.
public final class EventPublisher: Sendable {
    private let loop: IOLoop
    private let engine: LoopBound<PublisherEngine>

    /// A publisher connected to `endpoint`, the broker's events-in (XSUB) endpoint.
    public init(context: BusContext, endpoint: String, curve: ClientCurve?, logger: Logger) {
        self.loop = context.loop
        let engine = LoopBound(PublisherEngine(endpoint: endpoint, curve: curve, logger: logger), loop: context.loop)
        self.engine = engine
        loop.execute { reactor in engine.value.open(reactor) }
    }

    /// Hands one event to the socket; `frames[0]` is the topic subscribers filter on.
    ///
    /// Throws `BusError.protocolViolation` for an empty message, `BusError.closed` after close,
    /// and the connect error if the endpoint was invalid.
    public func publish(_ frames: [Data]) async throws {
        try await publish(all: [frames])
    }

    /// Hands a run of events to the socket in order, in one trip to the I/O thread (a relay
    /// publishing a page of events would otherwise wake that thread once per event).
    public func publish(all messages: [[Data]]) async throws {
        let engine = self.engine
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute(
                { _ in
                    for frames in messages {
                        if case .failure(let error) = engine.value.publish(frames) {
                            continuation.resume(throwing: error)
                            return
                        }
                    }
                    continuation.resume()
                },
                ifClosed: { continuation.resume(throwing: BusError.closed) })
        }
    }

    /// Closes the socket, giving queued events a moment to leave.
    public func close() async {
        let engine = self.engine
        await loop.perform { _ in engine.value.close() }
    }
}

/// The publisher's PUB socket, on the I/O thread.
final class PublisherEngine: LoopParticipant {
    private let endpoint: String
    private let curve: ClientCurve?
    private let logger: Logger
    private var reactor: Reactor?
    private var socket: ZSocket?
    private var failure: BusError?

    init(endpoint: String, curve: ClientCurve?, logger: Logger) {
        self.endpoint = endpoint
        self.curve = curve
        self.logger = logger
    }

    func open(_ reactor: Reactor) {
        self.reactor = reactor
        do throws(BusError) {
            self.socket = try reactor.openConnected(type: ZMQ_PUB, to: endpoint, curve: curve)
            reactor.join(self)
            if curve == nil {
                logger.warning("bus runs without CURVE: local development only", metadata: ["bus.endpoint": "\(endpoint)"])
            }
        } catch {
            failure = error
            logger.error("bus event publisher could not connect", metadata: ["bus.error": "\(error)"])
        }
    }

    func publish(_ frames: [Data]) -> Result<Void, any Error> {
        if let failure { return .failure(failure) }
        guard let socket else { return .failure(BusError.closed) }
        guard !frames.isEmpty else {
            return .failure(BusError(.protocolViolation, detail: "an event needs at least its topic frame"))
        }
        switch socket.send([], body: frames[...]) {
        case .sent, .wouldBlock, .unreachable:
            // PUB never blocks: with no subscriber or a full queue the event is dropped by design.
            return .success(())
        case .failed(let code):
            return .failure(BusError(.socketError, detail: "publish: \(zmqErrorText(code))"))
        }
    }

    func close() {
        socket?.close(linger: 200)
        socket = nil
        failure = .closed
        reactor?.leave(self)
    }

    func contextClosing() {
        socket?.close(linger: 0)
        socket = nil
        failure = .closed
    }
}
