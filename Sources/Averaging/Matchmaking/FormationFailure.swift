import CohortBase

/// Why a peer could not join a group for a step: a typed value for code, and one line a user can
/// act on for logs and the coordinator (the shell publishes it with the step).
public enum FormationFailure: Hashable, Sendable, CustomStringConvertible {
    /// The peer was alone when the gathering window closed.
    case noOtherPeer(step: UInt64, waited: Duration)
    /// Nobody among the declared peers accepts connections, so nobody can own a part or lead.
    case allClientMode(peerCount: Int)
    /// The peer(s) that should have led sent no plan in time; the last one tried is named.
    case leaderDidNotAnswer(leader: PeerID, step: UInt64, waited: Duration)
    /// More peers declared than one group holds and this peer was not among the first by id.
    case groupFull(step: UInt64, maxGroupSize: Int)
    /// The leader fixed the group before this peer's declaration reached it.
    case leftOut(leader: PeerID, step: UInt64)
    /// Every other member of the group answered the round that it was past the step: it had
    /// taken it alone or in another group before this peer's declaration reached it.
    case othersPastTheStep(step: UInt64, count: Int)
    /// The only other peers that declared are excluded (`Matchmaker.Settings.excluded`): this
    /// peer is not alone in the run, so it must not step alone either.
    case onlyExcludedPeers(step: UInt64, count: Int)

    public var description: String {
        switch self {
        case let .noOtherPeer(step, waited):
            "no other peer declared step \(step) within \(waited.humanReadable)"
        case let .allClientMode(peerCount):
            "all \(peerCount) peers are in client mode: at least one must accept connections"
        case let .leaderDidNotAnswer(leader, step, waited):
            "leader \(leader.shortDescription) did not answer (no plan for step \(step) within \(waited.humanReadable))"
        case let .leftOut(leader, step):
            "leader \(leader.shortDescription) fixed the group for step \(step) without this peer: it declared too late"
        case let .othersPastTheStep(step, count):
            "the \(count) other member(s) of the group for step \(step) had taken it without this peer: it declared too late"
        case let .onlyExcludedPeers(step, count):
            "only \(count) peer(s) excluded for holding recent rounds up declared step \(step)"
        case let .groupFull(step, maxGroupSize):
            "the group for step \(step) is full (\(maxGroupSize) peers, the maximum group size): this peer waits for the next step"
        }
    }
}
