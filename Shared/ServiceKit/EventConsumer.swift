public import Bus
import CoreMetrics
public import Foundation
import Instrumentation
public import Logging
public import Models
public import ServiceLifecycle
public import Store
import Synchronization

/// The events of one producer that a service applies, each by a handler that runs inside the
/// transaction that also advances the service's cursor for that producer.
public struct EventSubscription: Sendable {
    /// Applies one event's payload (JSON) inside the consumer's transaction.
    public typealias Handler = @Sendable (_ payload: Data, _ metadata: EventMetadata, _ connection: Connection) throws -> Void

    /// Applies consecutive events of one type at once (their payloads in order).
    public typealias BatchHandler = @Sendable (_ payloads: [Data], _ connection: Connection) throws -> Void

    public let producer: ServiceName
    var handlers: [String: Handler] = [:]
    var batchHandlers: [String: BatchHandler] = [:]

    public init(producer: ServiceName) {
        self.producer = producer
    }

    /// Applies events of type `Event`; other types of this producer only advance the cursor.
    public func on<Event: DomainEvent>(
        _ event: Event.Type, _ apply: @escaping @Sendable (Event, EventMetadata, Connection) throws -> Void
    ) -> EventSubscription {
        var copy = self
        copy.handlers[Event.type] = { payload, metadata, connection in
            try apply(try WireCoding.decoder().decode(Event.self, from: payload), metadata, connection)
        }
        return copy
    }

    /// Applies events of type `Event` in runs: consecutive ones that arrive together are given to
    /// `apply` at once, so it can do a run's work in a few statements (one event is a run of one).
    public func onBatch<Event: DomainEvent>(
        _ event: Event.Type, _ apply: @escaping @Sendable ([Event], Connection) throws -> Void
    ) -> EventSubscription {
        var copy = self
        let batch: BatchHandler = { payloads, connection in
            let decoder = WireCoding.decoder()
            try apply(try payloads.map { try decoder.decode(Event.self, from: $0) }, connection)
        }
        copy.batchHandlers[Event.type] = batch
        copy.handlers[Event.type] = { payload, _, connection in try batch([payload], connection) }
        return copy
    }

    /// Applies events of a type by its wire name, with the raw JSON payload.
    public func on(type: String, _ apply: @escaping Handler) -> EventSubscription {
        var copy = self
        copy.handlers[type] = apply
        return copy
    }
}

/// Applies other services' events exactly once: events are applied and the cursor advanced in
/// one transaction of this service's schema, so a duplicate (from another instance, a replay or a
/// redelivery) finds the cursor past it and changes nothing. A gap in the sequence, a producer's
/// heartbeat ahead of the cursor, and start-up all trigger a replay over MDP.
///
/// Events that arrive together are applied together: up to `batchLimit` consecutive events of one
/// producer in one transaction (one commit, one flush to disk, for all of them). If one of them
/// fails, the batch is rolled back and its events applied one at a time, so those before the
/// failing one still apply and it alone waits.
///
/// An event whose handler throws is not skipped: events of one producer apply in order (an
/// erasure must not be overtaken, nor silently dropped), so that producer's stream waits at it and
/// is retried at every heartbeat until a handler that can apply it is deployed. Operators see it as
/// `events_apply_failures_total{producer}` rising and `events_consumer_lag{producer}` (the
/// producer's last sequence number minus this service's cursor) staying above zero.
///
/// Every `acknowledgementInterval` at most, on a producer's heartbeat, it tells the producer how
/// far it has applied its events (`<producer>.events.acknowledge`), so the producer prunes only
/// what every consuming service has applied. A consumer that has never applied anything from a
/// producer that has already pruned starts at the oldest event the producer still holds (a new
/// service, deployed after the retention period, cannot apply history that is gone); a consumer
/// whose own position was pruned (its database restored from an old backup) stops at the gap and
/// logs an error, for an operator to resolve.
public final class EventConsumer: Service {
    private let consumer: ServiceName
    private let acknowledgementInterval: Duration
    private let acknowledged = Mutex<[String: (seq: Int64, at: ContinuousClock.Instant)]>([:])
    private let subscriptions: [String: EventSubscription]
    private let subscriber: EventSubscriber
    private let batchLimit: Int
    private let inbox = EventInbox(capacity: 10_000)
    private let database: Database
    private let bus: BusClient
    private let logger: Logger
    private let applied: Counter
    private let failures: [String: Counter]
    private let lag: [String: Gauge]
    /// Events fetched by replay: what the live stream did not bring (missed while down, or dropped
    /// by a full queue on the way).
    private let replayed: [String: Counter]
    /// How far each producer's events are known to need nothing from this service beyond its
    /// stored cursor: a run of events it has no handler for moves this without a transaction,
    /// and the cursor catches up with the next applied event or heartbeat. (A service subscribed
    /// to a producer for one rare event type, as accounts is for erasure confirmations, would
    /// otherwise commit a transaction for every event of a busy producer.)
    private let skipped = Mutex<[String: Int64]>([:])

    public init(
        consumer: ServiceName, subscriptions: [EventSubscription], subscriber: EventSubscriber, database: Database,
        bus: BusClient, acknowledgementInterval: Duration = .seconds(10), batchLimit: Int = 256, logger: Logger
    ) {
        self.consumer = consumer
        self.batchLimit = max(1, batchLimit)
        self.acknowledgementInterval = acknowledgementInterval
        // Several subscriptions to one producer (a service's own and the platform's) become one.
        self.subscriptions = Dictionary(subscriptions.map { ($0.producer.rawValue, $0) }) { first, second in
            var merged = first
            merged.handlers.merge(second.handlers) { mine, _ in mine }
            merged.batchHandlers.merge(second.batchHandlers) { mine, _ in mine }
            return merged
        }
        self.subscriber = subscriber
        self.database = database
        self.bus = bus
        self.logger = logger
        self.applied = Counter(label: "events_applied_total")
        self.failures = Dictionary(uniqueKeysWithValues: self.subscriptions.keys.map {
            ($0, Counter(label: "events_apply_failures_total", dimensions: [("producer", $0)]))
        })
        self.replayed = Dictionary(uniqueKeysWithValues: self.subscriptions.keys.map {
            ($0, Counter(label: "events_replayed_total", dimensions: [("producer", $0)]))
        })
        self.lag = Dictionary(uniqueKeysWithValues: self.subscriptions.keys.map {
            ($0, Gauge(label: "events_consumer_lag", dimensions: [("producer", $0)]))
        })
    }

    /// The topic prefixes that bring every event and heartbeat of the subscribed producers.
    public static func topicPrefixes(for subscriptions: [EventSubscription]) -> [String] {
        Set(subscriptions.map { "\($0.producer.rawValue)." }).sorted()
    }

    /// What happened to one event offered to the consumer.
    enum Outcome: Equatable {
        case applied, duplicate, gap
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for producer in self.subscriptions.keys.sorted() {
                await self.catchUpLogging(producer)
            }
            // What arrives while a batch is applied waits in the inbox and makes the next batch.
            let inbox = self.inbox
            let subscriber = self.subscriber
            let reader = Task {
                for await frames in subscriber.messages { inbox.push(frames) }
                inbox.finish()
            }
            while let arrived = await inbox.take() {
                await self.receive(arrived)
            }
            reader.cancel()
        }
        await subscriber.close()
    }

    /// Messages as they arrived, in order: consecutive events of one producer are applied as
    /// batches; heartbeats and anything else one by one.
    private func receive(_ messages: [[Data]]) async {
        var run: [(EventMetadata, Data)] = []
        func flush() async {
            guard !run.isEmpty else { return }
            let events = run
            run = []
            await receiveEvents(events)
        }
        for frames in messages {
            if frames.count == 3, let metadata = try? Self.decoder.decode(EventMetadata.self, from: frames[1]),
                subscriptions[metadata.producer] != nil
            {
                if let last = run.last, last.0.producer != metadata.producer || run.count >= batchLimit { await flush() }
                run.append((metadata, frames[2]))
            } else {
                await flush()
                await receiveOther(frames)
            }
        }
        await flush()
    }

    /// Applies a run of one producer's live events, catching up after a gap.
    private func receiveEvents(_ events: [(EventMetadata, Data)]) async {
        do {
            if try await apply(events) == .gap, let producer = events.first?.0.producer {
                await catchUpLogging(producer)
            }
        } catch {
            // `apply` counted and logged the event that failed.
        }
    }

    /// One decoder for every event's metadata (events are read on one task).
    private static let decoder = WireCoding.decoder()

    /// A message that is not an event of a subscribed producer: a heartbeat, or malformed.
    private func receiveOther(_ frames: [Data]) async {
        guard frames.count >= 2 else { return }
        let topic = String(decoding: frames[0], as: UTF8.self)
        if topic.hasSuffix("._heartbeat") {
            let producer = String(topic.dropLast("._heartbeat".count))
            guard subscriptions[producer] != nil,
                let last = Int64(String(decoding: frames[1], as: UTF8.self))
            else { return }
            guard let cursor = try? await storeSkipped(producer) else { return }
            noteApplied(producer, through: cursor)
            var position = cursor
            if cursor < last {
                await catchUpLogging(producer)
                position = (try? await storeSkipped(producer)) ?? cursor
            }
            lag[producer]?.record(max(0, last - position))
            await acknowledgeIfDue(producer, position: position)
            return
        }
        logger.warning("ignored a malformed event", metadata: ["event.topic": "\(topic)"])
    }

    /// Applies one event if it is the next of its producer; one transaction with the cursor, run
    /// again at once if it lost a deadlock or a serialization conflict to another writer (it was
    /// rolled back whole; handlers do nothing outside the transaction but hint pushes).
    ///
    /// It runs as a span of the trace that wrote the event (a new trace if it came without one),
    /// so what it logs, and the events it writes in turn, carry that trace on.
    func apply(_ metadata: EventMetadata, payload: Data) async throws -> Outcome {
        guard let subscription = subscriptions[metadata.producer] else { return .duplicate }
        let trace = TraceContext.continuing(metadata.traceparent)
        return try await ServiceContext.withValue(.following(trace)) {
            let (outcome, position) = try await database.retryingTransaction(.readCommitted) { connection -> (Outcome, Int64) in
                let cursor = max(try EventCursor.lock(producer: metadata.producer, on: connection), self.skippedPosition(metadata.producer))
                if metadata.seq <= cursor { return (.duplicate, cursor) }
                if metadata.seq != cursor + 1 { return (.gap, cursor) }
                try subscription.handlers[metadata.type]?(payload, metadata, connection)
                try EventCursor.advance(producer: metadata.producer, to: metadata.seq, on: connection)
                return (.applied, metadata.seq)
            }
            noteApplied(metadata.producer, through: position)
            if outcome == .applied {
                applied.increment()
                logger.debug(
                    "event applied", metadata: ["event.type": "\(metadata.type)", "event.seq": "\(metadata.seq)"])
            }
            return outcome
        }
    }

    /// Applies consecutive events of one producer in one transaction (those already applied are
    /// skipped; a gap stops the batch there). Any failure rolls the batch back, and its events are
    /// applied one at a time: the one that fails throws, after those before it applied.
    func apply(_ events: [(EventMetadata, Data)]) async throws -> Outcome {
        if let skippedOver = skipUnhandled(events) { return skippedOver }
        guard events.count > 1, let producer = events.first?.0.producer, let subscription = subscriptions[producer] else {
            guard let only = events.first else { return .duplicate }
            return try await applyLogging(only.0, payload: only.1)
        }
        do {
            let (count, gap, position) = try await database.retryingTransaction(.readCommitted) { connection -> (Int, Bool, Int64) in
                var cursor = max(try EventCursor.lock(producer: producer, on: connection), self.skippedPosition(producer))
                var count = 0
                // A run of consecutive events of one type with a batch handler, applied at once.
                var run: (type: String, first: EventMetadata, payloads: [Data])?
                func flush() throws {
                    guard let pending = run, let handler = subscription.batchHandlers[pending.type] else { return }
                    run = nil
                    try ServiceContext.withValue(.following(TraceContext.continuing(pending.first.traceparent))) {
                        try handler(pending.payloads, connection)
                    }
                }
                var gap = false
                for (metadata, payload) in events where metadata.seq > cursor {
                    if metadata.seq != cursor + 1 {
                        gap = true
                        break
                    }
                    if subscription.batchHandlers[metadata.type] != nil {
                        if run?.type != metadata.type { try flush() }
                        if run == nil { run = (metadata.type, metadata, []) }
                        run?.payloads.append(payload)
                    } else {
                        try flush()
                        try ServiceContext.withValue(.following(TraceContext.continuing(metadata.traceparent))) {
                            try subscription.handlers[metadata.type]?(payload, metadata, connection)
                        }
                    }
                    cursor = metadata.seq
                    count += 1
                }
                try flush()
                if count > 0 { try EventCursor.advance(producer: producer, to: cursor, on: connection) }
                return (count, gap, cursor)
            }
            noteApplied(producer, through: position)
            applied.increment(by: count)
            return gap ? .gap : (count > 0 ? .applied : .duplicate)
        } catch {
            var outcome = Outcome.duplicate
            for (metadata, payload) in events {
                let result = try await applyLogging(metadata, payload: payload)
                if result == .gap { return .gap }
                if result == .applied { outcome = .applied }
            }
            return outcome
        }
    }

    /// A run of events none of which this service handles, following on from where it is known to
    /// be: nothing to write, so only the skipped position moves (nil when the run needs the
    /// transactional path: a handled type, a position not known yet, or a gap to resolve there).
    private func skipUnhandled(_ events: [(EventMetadata, Data)]) -> Outcome? {
        guard let producer = events.first?.0.producer, let subscription = subscriptions[producer],
            events.allSatisfy({ subscription.handlers[$0.0.type] == nil && subscription.batchHandlers[$0.0.type] == nil })
        else { return nil }
        let (outcome, moved) = skipped.withLock { table -> (Outcome?, Int) in
            guard let start = table[producer] else { return (nil, 0) }
            var position = start
            var gap = false
            for (metadata, _) in events where metadata.seq > position {
                guard metadata.seq == position + 1 else {
                    gap = true
                    break
                }
                position = metadata.seq
            }
            table[producer] = position
            let moved = Int(position - start)
            if gap { return (moved > 0 ? .gap : nil, moved) }
            return (moved > 0 ? .applied : .duplicate, moved)
        }
        applied.increment(by: moved)
        return outcome
    }

    /// Where `producer`'s events are known to need nothing more from this service (0 if unknown).
    private func skippedPosition(_ producer: String) -> Int64 {
        skipped.withLock { $0[producer] } ?? 0
    }

    /// Records that `producer`'s events up to `seq` need nothing more from this service.
    private func noteApplied(_ producer: String, through seq: Int64) {
        skipped.withLock { $0[producer] = max($0[producer] ?? seq, seq) }
    }

    /// The stored cursor, brought up to the skipped position first if that is ahead.
    private func storeSkipped(_ producer: String) async throws -> Int64 {
        try await database.retryingTransaction(.readCommitted) { connection -> Int64 in
            let stored = try EventCursor.lock(producer: producer, on: connection)
            let position = max(stored, self.skippedPosition(producer))
            if position > stored { try EventCursor.advance(producer: producer, to: position, on: connection) }
            return position
        }
    }

    /// `apply` of one event, counting and logging a failure before it is thrown on.
    private func applyLogging(_ metadata: EventMetadata, payload: Data) async throws -> Outcome {
        do {
            return try await apply(metadata, payload: payload)
        } catch {
            failures[metadata.producer]?.increment()
            logger.error(
                "event not applied; it will be replayed",
                metadata: ["event.type": "\(metadata.type)", "event.seq": "\(metadata.seq)", "error": "\(error)"])
            throw error
        }
    }

    private func catchUpLogging(_ producer: String) async {
        do {
            try await catchUp(producer)
        } catch {
            logger.warning("event replay failed; the next heartbeat retries", metadata: ["bus.producer": "\(producer)", "error": "\(error)"])
        }
    }

    /// Tells `producer` this service's position, when it moved (or was never told) and the last
    /// acknowledgement is `acknowledgementInterval` old. A failure is tried again at a later heartbeat.
    ///
    /// With `now`, it is told whenever the position moved, however recently it was last told.
    func acknowledgeIfDue(_ producer: String, position: Int64, now: Bool = false) async {
        let clock = ContinuousClock.now
        let due = acknowledged.withLock { table in
            guard let last = table[producer] else { return true }
            return position > last.seq && (now || last.at.duration(to: clock) >= acknowledgementInterval)
        }
        guard due else { return }
        do {
            let _: Empty = try await bus.call(
                service: ServiceName(producer), operation: Events.Acknowledge.name(for: ServiceName(producer)),
                request: Events.Acknowledge.Request(consumer: consumer.rawValue, seq: position), responseType: Empty.self,
                as: .system, idempotent: true, timeout: .seconds(2))
            acknowledged.withLock { $0[producer] = (position, clock) }
        } catch {
            logger.debug("event acknowledgement failed; a later heartbeat retries", metadata: ["bus.producer": "\(producer)", "error": "\(error)"])
        }
    }

    /// Asks the producer for every event after this service's cursor, and applies them in order.
    func catchUp(_ producer: String) async throws {
        // A producer with no live worker cannot answer; its first heartbeat brings us back here.
        guard try await bus.hasWorkers(producer) else { return }
        // Known to the producer before reading from it, so it prunes nothing this service has
        // yet to apply while it catches up (a consumer never heard of holds nothing back).
        var cursor = try await storeSkipped(producer)
        noteApplied(producer, through: cursor)
        await acknowledgeIfDue(producer, position: cursor)
        let limit = 500
        while true {
            let page = try await bus.call(
                service: ServiceName(producer), operation: Events.Replay.name(for: ServiceName(producer)),
                request: Events.Replay.Request(after: cursor, limit: limit),
                responseType: Events.Replay.Response.self, as: .system, idempotent: true, timeout: .seconds(10))
            if let first = page.events.first?.metadata.seq, first > cursor + 1 {
                guard cursor == 0 else {
                    failures[producer]?.increment()
                    logger.error(
                        "the producer pruned events this service never applied; it stays at the gap until an operator resolves it",
                        metadata: ["bus.producer": "\(producer)", "event.cursor": "\(cursor)", "event.first_kept": "\(first)"])
                    return
                }
                try await startAtHorizon(producer, first: first)
                await acknowledgeIfDue(producer, position: first - 1, now: true)
            }
            replayed[producer]?.increment(by: page.events.count)
            var start = page.events.startIndex
            while start < page.events.endIndex {
                let end = min(start + batchLimit, page.events.endIndex)
                let events = page.events[start..<end].map { ($0.metadata, Data($0.payload.utf8)) }
                if try await apply(events) == .gap { break }
                start = end
            }
            if page.events.isEmpty || page.events.last.map({ $0.metadata.seq >= page.lastSeq }) == true {
                return
            }
            cursor = max(try await database.withConnection { try EventCursor.current(producer: producer, on: $0) }, skippedPosition(producer))
        }
    }

    /// A consumer that never applied anything from `producer`, which has pruned events before
    /// `first`, starts just before `first` (within a transaction that sees the cursor still at 0).
    private func startAtHorizon(_ producer: String, first: Int64) async throws {
        let moved = try await database.transaction { connection in
            guard try EventCursor.lock(producer: producer, on: connection) == 0 else { return false }
            try EventCursor.advance(producer: producer, to: first - 1, on: connection)
            return true
        }
        if moved {
            logger.notice(
                "starting at the oldest event the producer still holds; earlier ones were pruned before this service first ran",
                metadata: ["bus.producer": "\(producer)", "event.first_kept": "\(first)"])
        }
    }
}

/// The consumer's queue of arrived messages: filled as the subscriber receives them, emptied a
/// batch at a time. Beyond `capacity` the newest are dropped, which the consumer notices as a gap
/// and repairs by replay.
final class EventInbox: Sendable {
    private struct State {
        var messages: [[Data]] = []
        var waiter: CheckedContinuation<[[Data]]?, Never>?
        var finished = false
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func push(_ frames: [Data]) {
        let waiter = state.withLock { state -> CheckedContinuation<[[Data]]?, Never>? in
            guard state.messages.count < capacity else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.messages.append(frames)
            return nil
        }
        waiter?.resume(returning: [frames])
    }

    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[[Data]]?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Everything that arrived since the last take, waiting for the first; nil once finished (or
    /// the waiting task cancelled) and empty.
    func take() async -> [[Data]]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> [[Data]]?? in
                    if !state.messages.isEmpty {
                        defer { state.messages = [] }
                        return .some(state.messages)
                    }
                    if state.finished { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}
