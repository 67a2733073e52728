public import Bus
public import Foundation
public import Logging
import Models

/// How a service pushes live messages to people's connected clients (`StreamTopic`): published
/// after the change they describe has committed, never stored, never logged.
///
/// A push can be lost (no gateway holds the person's connection, a process stopped between the
/// commit and the push); clients recover what matters from the service's own tables, which is
/// why a push is sent only once the change is durable. The exception is `send`, for an event's
/// handler inside its transaction: such a push is a hint that may leave before the commit, and
/// again if the event is applied again.
public struct StreamPushes: Sendable {
    let publisher: EventPublisher?
    let logger: Logger
    private let queue: (stream: AsyncStream<Queued>, continuation: AsyncStream<Queued>.Continuation)

    /// A push handed over by `send`, pushed in its turn.
    struct Queued: Sendable {
        let payload: Data
        let people: [UUID]
    }

    public init(publisher: EventPublisher?, logger: Logger) {
        self.publisher = publisher
        self.logger = logger
        queue = AsyncStream.makeStream(of: Queued.self, bufferingPolicy: .bufferingNewest(10_000))
        // One task pushes what `send` queues, in the order it was queued.
        let stream = queue.stream
        Task { [publisher] in
            guard let publisher else { return }
            for await queued in stream {
                for person in queued.people {
                    try? await publisher.publish([Data(StreamTopic.topic(for: person).utf8), queued.payload])
                }
            }
        }
    }

    /// Queues `message` for each of `people` without waiting, from code that cannot (an event's
    /// handler inside its transaction): pushes sent this way leave in the order they were sent.
    public func send(_ message: some Encodable & Sendable, to people: [UUID?]) {
        guard publisher != nil, let payload = try? WireCoding.encoder().encode(message) else { return }
        queue.continuation.yield(Queued(payload: payload, people: Array(Set(people.compactMap { $0 }))))
    }

    /// Pushes `message` to each of `people` (nil entries, erased people, are skipped).
    public func push(_ message: some Encodable & Sendable, to people: [UUID?]) async {
        guard let publisher else { return }
        let payload: Data
        do {
            payload = try WireCoding.encoder().encode(message)
        } catch {
            logger.error("stream push not encoded", metadata: ["error": "\(error)"])
            return
        }
        for person in Set(people.compactMap { $0 }) {
            do {
                try await publisher.publish([Data(StreamTopic.topic(for: person).utf8), payload])
            } catch {
                logger.warning("stream push not published", metadata: ["error": "\(error)"])
            }
        }
    }
}
