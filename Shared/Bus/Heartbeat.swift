/// MDP heartbeating: how often peers signal, and how many silent intervals mean "gone".
///
/// The defaults (2.5 s, 3) are those of the zguide's reference peers, so third-party workers
/// and brokers agree with ours.
public struct Heartbeat: Sendable, Equatable {
    /// Time between heartbeats.
    public var interval: Duration
    /// Intervals without traffic after which a peer is considered dead.
    public var liveness: Int

    /// A heartbeat setting; `liveness` below 1 is treated as 1.
    public init(interval: Duration = .milliseconds(2500), liveness: Int = 3) {
        self.interval = interval
        self.liveness = max(1, liveness)
    }

    var intervalNanoseconds: UInt64 { max(1_000_000, interval.clampedNanoseconds) }
    /// Silence longer than this means the peer is gone.
    var expiryNanoseconds: UInt64 { intervalNanoseconds * UInt64(liveness) }
}
