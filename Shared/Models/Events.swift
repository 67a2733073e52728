/// Operations every event-producing service answers, so consumers can catch up.
public enum Events {
    /// `<producer>.events.replay`: the published events after a sequence number, in order.
    public struct Replay: Codable, Sendable {
        public struct Request: Codable, Sendable, Equatable {
            public var after: Int64
            public var limit: Int
            public init(after: Int64, limit: Int = 500) {
                self.after = after
                self.limit = limit
            }
        }

        public struct Response: Codable, Sendable, Equatable {
            public var events: [StoredEvent]
            /// The highest sequence the producer has stamped so far.
            public var lastSeq: Int64
            public init(events: [StoredEvent], lastSeq: Int64) {
                self.events = events
                self.lastSeq = lastSeq
            }
        }

        /// The wire name for one producer's replay operation.
        public static func name(for producer: ServiceName) -> String { "\(producer.rawValue).events.replay" }
    }

    /// `<producer>.events.acknowledge`: a consuming service tells the producer how far it has
    /// applied the producer's events, so the producer may prune what every consumer has applied.
    public struct Acknowledge: Codable, Sendable {
        public struct Request: Codable, Sendable, Equatable {
            /// The consuming service (on a CURVE bus, the process the broker authenticated).
            public var consumer: String
            /// The consumer's cursor: every event up to it is applied.
            public var seq: Int64
            public init(consumer: String, seq: Int64) {
                self.consumer = consumer
                self.seq = seq
            }
        }

        /// The wire name for one producer's acknowledgement operation.
        public static func name(for producer: ServiceName) -> String { "\(producer.rawValue).events.acknowledge" }
    }

    /// One event as the producer's outbox holds it: metadata plus the payload's JSON text.
    public struct StoredEvent: Codable, Sendable, Equatable {
        public var metadata: EventMetadata
        public var payload: String
        public init(metadata: EventMetadata, payload: String) {
            self.metadata = metadata
            self.payload = payload
        }
    }

    /// The topic of a producer's tail heartbeat; its one frame is the last stamped sequence.
    public static func heartbeatTopic(for producer: String) -> String { "\(producer)._heartbeat" }
}
