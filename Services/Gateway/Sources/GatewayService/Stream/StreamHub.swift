import Bus
import Foundation
import Logging
import Metrics
import Models
import ServiceLifecycle
import Synchronization

/// The gateway's end of the live pushes: one subscription per person connected here
/// (`stream.<accountId>`, taken with their first connection and dropped with their last), and
/// the directory's status changes for the advisors connections watch. Each push goes, as is, to
/// that person's connections' send queues; nothing is broadcast to every gateway.
final class StreamHub: Service, Sendable {
    private struct State {
        var byAccount: [UUID: [ObjectIdentifier: StreamConnection]] = [:]
        /// Advisor → the connections watching their status, and the other way round.
        var watchers: [UUID: [ObjectIdentifier: StreamConnection]] = [:]
        var watching: [ObjectIdentifier: Set<UUID>] = [:]

        mutating func unwatch(_ advisors: Set<UUID>, by id: ObjectIdentifier) {
            for advisor in advisors {
                watchers[advisor]?[id] = nil
                if watchers[advisor]?.isEmpty == true { watchers[advisor] = nil }
            }
        }
        /// Probes on their way back: nonce → the waiting `attach`.
        var probes: [String: CheckedContinuation<Bool, Never>] = [:]
        var closing = false
    }

    let bus: BusClient
    private let subscriber: EventSubscriber
    private let publisher: EventPublisher
    private let logger: Logger
    private let state = Mutex(State())
    private let connected = Gauge(label: "gateway_stream_connections")
    private let pushed = Counter(label: "gateway_stream_pushes_total")

    /// How long one probe may take before it is sent again, and how many are tried.
    static let probeWait = Duration.milliseconds(100)
    static let probeAttempts = 50

    init(bus: BusClient, subscriber: EventSubscriber, publisher: EventPublisher, logger: Logger) {
        self.bus = bus
        self.subscriber = subscriber
        self.publisher = publisher
        self.logger = logger
    }

    /// Hands every push that arrives to its connections, until graceful shutdown, when every
    /// connection is closed with 1012 (service restart) so its client resumes on another gateway.
    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await frames in self.subscriber.messages {
                self.dispatch(frames)
            }
        }
        let connections = state.withLock { state in
            state.closing = true
            return state.byAccount.values.flatMap(\.values)
        }
        for connection in connections { connection.close(.restarting) }
        await subscriber.close()
        await publisher.close()
    }

    // MARK: Connections

    /// Adds a connection and returns once pushes to its person are sure to reach this gateway:
    /// the person's subscription is taken, and a probe published on their topic came back through
    /// the broker (which takes every push from every publisher, so what passes its XPUB after the
    /// probe reaches us). Throws `unavailable` when the probe never comes back (no broker).
    func attach(_ connection: StreamConnection) async throws {
        let id = ObjectIdentifier(connection)
        let account = connection.accountId
        let first = try state.withLock { state in
            guard !state.closing else { throw ServiceError(.unavailable, "this gateway is restarting; connect again") }
            state.byAccount[account, default: [:]][id] = connection
            return state.byAccount[account]?.count == 1
        }
        connected.record(Double(state.withLock { $0.byAccount.values.reduce(0) { $0 + $1.count } }))
        let topic = StreamTopic.topic(for: account)
        if first { subscriber.subscribe(topic) }
        for _ in 0..<Self.probeAttempts {
            if try await probe(topic) { return }
        }
        detach(connection)
        throw ServiceError(.unavailable, "live updates are not available right now; try again")
    }

    /// Removes a connection (and its person's subscription with their last connection).
    func detach(_ connection: StreamConnection) {
        let id = ObjectIdentifier(connection)
        let account = connection.accountId
        let (last, total) = state.withLock { state -> (Bool, Int) in
            guard state.byAccount[account]?.removeValue(forKey: id) != nil else { return (false, -1) }
            let last = state.byAccount[account]?.isEmpty ?? true
            if last { state.byAccount[account] = nil }
            state.unwatch(state.watching.removeValue(forKey: id) ?? [], by: id)
            return (last, state.byAccount.values.reduce(0) { $0 + $1.count })
        }
        if last { subscriber.unsubscribe(StreamTopic.topic(for: account)) }
        if total >= 0 { connected.record(Double(total)) }
    }

    /// Replaces the set of advisors whose status `connection` is sent.
    func watch(_ advisors: Set<UUID>, by connection: StreamConnection) {
        let id = ObjectIdentifier(connection)
        state.withLock { state in
            guard state.byAccount[connection.accountId]?[id] != nil else { return }
            state.unwatch((state.watching[id] ?? []).subtracting(advisors), by: id)
            for advisor in advisors { state.watchers[advisor, default: [:]][id] = connection }
            state.watching[id] = advisors
        }
    }

    // MARK: Pushes

    private func probe(_ topic: String) async throws -> Bool {
        let nonce = UUID().uuidString
        let payload = Data(#"{"type":"probe","nonce":"\#(nonce)"}"#.utf8)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            state.withLock { $0.probes[nonce] = continuation }
            Task {
                do {
                    try await publisher.publish([Data(topic.utf8), payload])
                    try await Task.sleep(for: Self.probeWait)
                } catch {}
                state.withLock { $0.probes.removeValue(forKey: nonce) }?.resume(returning: false)
            }
        }
    }

    private func dispatch(_ frames: [Data]) {
        guard let topic = frames.first else { return }
        if frames.count == 2, topic.starts(with: Data(StreamTopic.prefix.utf8)) {
            let suffix = String(decoding: topic.dropFirst(StreamTopic.prefix.utf8.count), as: UTF8.self)
            guard let account = UUID(uuidString: suffix),
                let heading = try? WireCoding.decoder().decode(StreamPush.Heading.self, from: frames[1])
            else { return }
            if heading.type == "probe" {
                if let nonce = heading.nonce { state.withLock { $0.probes.removeValue(forKey: nonce) }?.resume(returning: true) }
                return
            }
            let connections = state.withLock { $0.byAccount[account].map { Array($0.values) } ?? [] }
            for connection in connections { connection.enqueue(.push(frames[1], heading)) }
            pushed.increment(by: connections.count)
        } else if frames.count == 3, topic == Data(Directory.AdvisorStatusChanged.type.utf8),
            let event = try? WireCoding.decoder().decode(Directory.AdvisorStatusChanged.self, from: frames[2])
        {
            let connections = state.withLock { $0.watchers[event.advisorId].map { Array($0.values) } ?? [] }
            guard !connections.isEmpty,
                let payload = try? WireCoding.encoder().encode(StreamPush.AdvisorStatus(advisorId: event.advisorId, status: event.status))
            else { return }
            let heading = StreamPush.Heading(type: "advisor.status")
            for connection in connections { connection.enqueue(.push(payload, heading)) }
            pushed.increment(by: connections.count)
        }
    }
}
