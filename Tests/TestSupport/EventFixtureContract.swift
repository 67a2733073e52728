public import Models

// The contract between the end-to-end tests and the `event-fixture` executable.

/// One counted event; `label` lets each test count only its own.
public struct Counted: DomainEvent {
    public static let type = "fixture.counted.v1"
    public var n: Int
    public var label: String
    public init(n: Int, label: String) {
        self.n = n
        self.label = label
    }
}

public struct Emit: BusOperation {
    public static let service = ServiceName("fixture")
    public static let name = "fixture.emit"
    /// Writing a few hundred events on a machine loaded by the whole end-to-end round took more
    /// than the default 5 s; what the tests check is that each is applied once, not how fast.
    public static let timeout = Duration.seconds(30)
    public struct Request: Codable, Sendable {
        public var count: Int
        public var label: String
        /// Events of a type the consumer has no handler for, written before each counted one.
        public var noise: Int?
        public init(count: Int, label: String, noise: Int? = nil) {
            self.count = count
            self.label = label
            self.noise = noise
        }
    }
    public typealias Response = Empty
}

public struct CountReceived: BusOperation {
    public static let service = ServiceName("fixturesink")
    public static let name = "fixturesink.count"
    public static let isIdempotent = true
    public struct Request: Codable, Sendable {
        public var label: String
        public init(label: String) { self.label = label }
    }
    public struct Response: Codable, Sendable {
        public var rows: Int
        public var distinct: Int
        public init(rows: Int, distinct: Int) {
            self.rows = rows
            self.distinct = distinct
        }
    }
}

