/// What one member's all-reduce round achieved, for the caller's SGD step, the logs, the
/// bandwidth estimate and the coordinator.
public struct AllReduceResult: Hashable, Sendable {
    /// The group plan's id.
    public var roundID: UInt64
    /// Members this peer still counted at the end (as this peer saw it), in plan order.
    public var participants: [PeerID]
    /// Members this peer marked failed or misbehaving, senders it (as an owner) stopped waiting
    /// for at the sender deadline, and owners whose average had not arrived by the round deadline.
    public var leftOut: [PeerID]
    /// Sum of the participants' sample counts.
    public var totalSamples: UInt64
    /// Encoded chunk bytes this peer sent and received (payloads, without frame headers).
    public var bytesSent: Int
    public var bytesReceived: Int
    /// From the round's start to its end, in the injected time.
    public var duration: Duration
    /// Element ranges whose average never arrived because their owner failed or stalled. The
    /// caller skips the update for these ranges (DESIGN.md "Averaging round" 4). Chunks of such a
    /// range that did arrive hold the average; the others hold this member's local values.
    public var failedParts: [Range<Int>]

    /// True when every part of the vector was averaged.
    public var isComplete: Bool { failedParts.isEmpty }
}
