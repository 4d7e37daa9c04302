import CohortBase

/// What a peer ready to average at a step tells the others (through the DHT, under the run's
/// key for that step), and how a member is listed in a `GroupPlan`.
///
/// DeDLOC gathers peers for a step through the DHT; hivemind's `averaging/matchmaking.py` has
/// peers declare themselves under a group key in the same way.
public struct Declaration: Hashable, Sendable {
    /// The collaborative step this peer is ready to average.
    public var step: UInt64
    public var peer: PeerID
    /// Where others connect to this peer ("host:port"); unused for a client-mode peer.
    public var address: String
    /// The peer's measured bandwidth in bytes per second (see `BandwidthEstimator`).
    public var bandwidth: UInt64
    /// A client-mode peer cannot accept connections (behind NAT): it sends and receives but owns
    /// no part of the vector and cannot lead a group.
    public var clientMode: Bool
    /// Samples accumulated for this step: the peer's weight in the average. At least 1.
    public var samples: UInt64

    /// Largest bandwidth a declaration may announce: 2⁵⁰ bytes/s (about 1 PB/s, beyond any
    /// link). With at most `GroupPlan.maxMembers` members the group's bandwidth sum, which
    /// `LoadBalancing` computes, cannot overflow.
    public static let maxBandwidth: UInt64 = 1 << 50
    /// Most samples a declaration may carry (2⁴⁰), so that a group's sample total cannot overflow.
    public static let maxSamples: UInt64 = 1 << 40

    public init(step: UInt64, peer: PeerID, address: String, bandwidth: UInt64, clientMode: Bool, samples: UInt64) {
        self.step = step
        self.peer = peer
        self.address = address
        self.bandwidth = bandwidth
        self.clientMode = clientMode
        self.samples = samples
    }

    /// Bandwidth and samples within `maxBandwidth` and `maxSamples`: what a group plan accepts.
    public var isWithinLimits: Bool {
        bandwidth <= Self.maxBandwidth && samples <= Self.maxSamples
    }
}
