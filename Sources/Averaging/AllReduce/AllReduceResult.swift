import CohortBase

/// What one member's all-reduce round achieved, for the caller's SGD step, the logs, the
/// bandwidth estimate and the coordinator.
public struct AllReduceResult: Hashable, Sendable {
    /// A member this peer dropped from the round, and why (a chunk that broke the plan, or a
    /// part that failed the owner's checks: "chunk 3 of part 1 from 9f3c…: 12 non-finite values").
    public struct DroppedPeer: Hashable, Sendable {
        public var peer: PeerID
        public var reason: String
    }

    /// The group plan's id.
    public var roundID: UInt64
    /// Members this peer still counted at the end (as this peer saw it), in plan order.
    public var participants: [PeerID]
    /// Members this peer marked failed or misbehaving, senders it (as an owner) stopped waiting
    /// for at the sender deadline, and owners whose average had not arrived by the round deadline.
    public var leftOut: [PeerID]
    /// Sum of the participants' weights: their sample counts as the average counted them,
    /// each cut to `ShareCap`'s bound (`GroupPlan.weights`).
    public var totalSamples: UInt64
    /// Sum of every plan member's weight, whoever took part: the same at every member, since
    /// they all hold the same plan (its id names the round), while `totalSamples` rests on this
    /// member's view of who took part. What must agree across members, such as the learning
    /// rate of the step they all take, follows this.
    public var plannedSamples: UInt64 = 0
    /// Encoded chunk bytes this peer sent and received (payloads, without frame headers).
    public var bytesSent: Int
    public var bytesReceived: Int
    /// From the round's start to its end, in the injected time.
    public var duration: Duration
    /// Element ranges whose average never arrived because their owner failed or stalled. The
    /// caller skips the update for these ranges (DESIGN.md "Averaging round" 4). Chunks of such a
    /// range that did arrive hold the average; the others hold this member's local values.
    public var failedParts: [Range<Int>]
    /// Members this peer dropped for misbehaving, with the reason, in the order it dropped them;
    /// they are also in `leftOut`.
    public var dropped: [DroppedPeer] = []
    /// Members left out that this peer got nothing at all from, although it waited for them: no
    /// chunk of its part (while it owned one they had to send) and no average of theirs (while
    /// they owned a part). An honest member that was merely slow sent something; one that
    /// declared and then did nothing did not, and the caller keeps it out of the next rounds.
    public var silent: [PeerID] = []
    /// Members left out because they answered that they are past the round's step: they took
    /// it in another group or alone, so that their state, not this round's, is the run's.
    public var pastTheRound: [PeerID] = []
    /// How fast the members' chunks of this owner's part arrived, in bytes per second: for each
    /// sender, the bytes of its chunks after the first over the time from its first chunk to
    /// its last, summed over senders (they send at once). Nil when no sender delivered two
    /// chunks (this member owned less than that, or nothing). It measures this member's link
    /// (DeDLOC §3.1 balances parts by it) and, unlike the round's bytes over its duration, not
    /// the wait for the slowest member, which every member of a round shares.
    public var inboundBytesPerSecond: Double?
    /// Owners whose average of their part was finite but longer than the norm bound allows
    /// against this member's own values: skipped without proof of blame (a hostile sender can
    /// push an honest owner's average there for one member), so counted across rounds.
    public var outOfBoundAverages: [PeerID] = []

    /// True when every part of the vector was averaged.
    public var isComplete: Bool { failedParts.isEmpty }
}

extension AllReduceResult {
    /// A result built outside a round: what a simulator's model of the round produced.
    public init(roundID: UInt64, participants: [PeerID], leftOut: [PeerID], totalSamples: UInt64, bytesSent: Int,
                bytesReceived: Int, duration: Duration, failedParts: [Range<Int>], silent: [PeerID]) {
        self.init(roundID: roundID, participants: participants, leftOut: leftOut, totalSamples: totalSamples, bytesSent: bytesSent,
                  bytesReceived: bytesReceived, duration: duration, failedParts: failedParts, dropped: [], silent: silent,
                  inboundBytesPerSecond: nil)
    }
}
