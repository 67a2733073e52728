/// Where the broker listens: MDP request/reply, and both sides of the event exchange.
///
/// A broker may bind a wildcard port (`tcp://127.0.0.1:*`); `Broker.endpoints` then tells the
/// ports it got.
public struct BusEndpoints: Sendable, Equatable {
    /// The MDP ROUTER: clients and workers connect here.
    public var mdp: String
    /// The event exchange's XSUB: publishers connect their PUB sockets here.
    public var eventsIn: String
    /// The event exchange's XPUB: subscribers connect their SUB sockets here.
    public var eventsOut: String

    /// Endpoints for one broker; the defaults suit a single machine.
    public init(
        mdp: String = "tcp://127.0.0.1:5555",
        eventsIn: String = "tcp://127.0.0.1:5556",
        eventsOut: String = "tcp://127.0.0.1:5557"
    ) {
        self.mdp = mdp
        self.eventsIn = eventsIn
        self.eventsOut = eventsOut
    }
}
