import Foundation

/// One request/reply operation on the bus: its wire name, its request and its response.
///
/// Every operation the platform offers is one type conforming to this protocol, declared in this
/// module, so that callers and workers compile against the same contract.
public protocol BusOperation: Sendable {
    associatedtype Request: Codable & Sendable
    associatedtype Response: Codable & Sendable

    /// The MDP service that answers it: `accounts`, `chat`, …
    static var service: ServiceName { get }
    /// The operation's name on the wire, versioned by convention: `accounts.register`.
    static var name: String { get }
    /// Whether running it twice has the effect of running it once; only these are retried
    /// on another worker when a worker dies mid-call.
    static var isIdempotent: Bool { get }
    /// How long a caller waits for the answer, all attempts together.
    static var timeout: Duration { get }
}

extension BusOperation {
    public static var isIdempotent: Bool { false }
    public static var timeout: Duration { .seconds(5) }
}

/// An operation that takes or returns nothing.
public struct Empty: Codable, Sendable, Equatable {
    public init() {}
}

/// The MDP services of the platform: the processes that answer bus calls.
public struct ServiceName: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let accounts = ServiceName("accounts")
    public static let directory = ServiceName("directory")
    public static let chat = ServiceName("chat")
    public static let billing = ServiceName("billing")
    public static let boards = ServiceName("boards")
    public static let notifications = ServiceName("notifications")

    /// Every worker service, in the order operators see them listed.
    public static let all: [ServiceName] = [.accounts, .directory, .chat, .billing, .boards, .notifications]
}
