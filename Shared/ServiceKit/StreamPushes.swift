public import Bus
public import Foundation
public import Logging
import Models

/// How a service pushes live messages to people's connected clients (`StreamTopic`): published
/// after the change they describe has committed, never stored, never logged.
///
/// A push can be lost (no gateway holds the person's connection, a process stopped between the
/// commit and the push); clients recover what matters from the service's own tables, which is
/// why a push is sent only once the change is durable.
public struct StreamPushes: Sendable {
    let publisher: EventPublisher?
    let logger: Logger

    public init(publisher: EventPublisher?, logger: Logger) {
        self.publisher = publisher
        self.logger = logger
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
