import CohortBase
import DHT
import NIOCore

/// Test hook: delay or drop the frames this node sends, per peer or to everyone. Off by
/// default. Loss drops a frame silently, so its request ends in a timeout as on a lossy link.
public struct FaultInjection: Sendable {
    /// What happens on one link.
    public struct Link: Sendable, Equatable {
        /// Added before each frame is written.
        public var delay: TimeAmount
        /// Probability in [0, 1] that a frame is dropped.
        public var lossRate: Double

        public init(delay: TimeAmount = .zero, lossRate: Double = 0) {
            precondition((0...1).contains(lossRate), "loss rate \(lossRate) outside [0, 1]")
            self.delay = delay
            self.lossRate = lossRate
        }
    }

    /// Applies to peers without their own entry; nil leaves them alone.
    public var allPeers: Link?
    /// Per-peer settings, which win over `allPeers`.
    public var peers: [PeerID: Link] = [:]

    public init(allPeers: Link? = nil, peers: [PeerID: Link] = [:]) {
        self.allPeers = allPeers
        self.peers = peers
    }

    /// The link settings towards `peer`, nil when nothing is injected.
    func link(to peer: PeerID) -> Link? {
        peers[peer] ?? allPeers
    }
}
