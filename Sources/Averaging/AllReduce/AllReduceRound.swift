import CohortBase

/// One member's butterfly all-reduce for one round, as a pure state machine.
///
/// Each member owns the part of the flat vector its `GroupPlan` gives it (client-mode members own
/// none). Every member streams its values of each part, chunk by chunk, to that part's owner;
/// the owner checks each chunk as it arrives and, once every sender's chunk k is in, reduces
/// chunk k (`Settings.aggregation`: the sample-weighted mean, or a robust aggregation) and sends
/// the result to all members, who write it into their vector.
/// DeDLOC §3.1 (load-balanced butterfly all-reduce); hivemind's `averaging/allreduce.py`.
///
/// Driving a round (the node shell or a test):
/// 1. `init` with the plan, the member's vector, its settings and the time, then `start()`.
/// 2. For every action: `.sendPartChunk` → `partChunk(for:)` (or `encodePartChunk(_:into:)` into a
///    frame buffer) and send; `.sendAveragedChunk` → `averagedChunkPayload(for:)` to each peer;
///    `.wake(at:)` → call `onDeadline(now:)` then; `.dropPeer` → close that connection;
///    `.banPeer` → close it and ban the peer; `.finished` → the round is over, use the result.
/// 3. Feed what happens: `onPartChunk`, `onAveragedChunk`, `onPeerFailed` (a lost connection or
///    an `Abort`), `onDeadline`.
///
/// Faults: a sender that fails or stalls past `senderTimeout` (it has not delivered the owner's
/// oldest open chunk by then) is left out of the averages of the chunks it did not deliver, whose
/// weights renormalise; senders still delivering stay in until `roundTimeout`. A sender that
/// breaks the plan or sends a chunk failing the owner's checks (`Settings.normBoundFactor`) is
/// dropped, and what it sent for chunks not yet averaged is discarded too. A part whose owner
/// fails, or sends nothing by `roundTimeout`, is reported in `AllReduceResult.failedParts`.
/// Every wait is bounded by `roundTimeout`: by then the round finishes with what it has.
///
/// The vector is borrowed, not copied: it must stay valid and untouched by anyone else until
/// `.finished`. The round writes the average into it in place (an owner builds its weighted sum
/// in its own part), so a round abandoned before `.finished` leaves the vector unspecified.
public struct AllReduceRound {
    public struct Settings: Hashable, Sendable {
        public var compression: Compression = .none
        /// Elements per streamed chunk. 2¹⁸ (1 MiB as float32) measured fastest on 127.0.0.1
        /// (docs/benchmarks.md): smaller chunks pay more per-message work, larger ones overlap
        /// sending, reducing and receiving less.
        public var chunkSize: Int = Self.defaultChunkSize
        /// After this long an owner stops waiting for senders and averages what it has.
        public var senderTimeout: Duration = .seconds(20)
        /// After this long a member stops waiting for averages; at least `senderTimeout`, so that
        /// averages finalised at the sender deadline still arrive in time.
        public var roundTimeout: Duration = .seconds(30)
        /// How often an owner looks for senders that owe it chunks but have sent nothing for
        /// this long (`Action.checkAlive`), so that one that died without a connection to this
        /// owner closing (it never opened one, or owns no part anyone was sending to) is left
        /// out at once instead of at the sender deadline. Nil turns the checks off.
        public var silenceCheckInterval: Duration? = .seconds(2)
        /// An owner's bound on a member's chunk: its L2 norm may be at most this many times the
        /// median norm of that chunk over the contributions in (the owner's own included).
        ///
        /// Every chunk an owner receives is checked before it is reduced: its size must match the
        /// chunk and codec, its decoding must be finite (checked on arrival), and its norm must be
        /// within this bound (checked once the chunk index is complete: every expected sender's
        /// chunk is in or left out, at the latest at the sender deadline). A sender failing a check
        /// is dropped from the round (`.dropPeer`, listed in `AllReduceResult.dropped`); its
        /// contributions to the chunks not yet averaged are discarded and their weights
        /// renormalise. The bound applies only to chunks with at least three contributions and a
        /// non-zero median: with two, the median is one of the two and cannot tell who is honest.
        /// An honest gradient a few times larger than the others passes; one scaled by 1000 does
        /// not. `.infinity` turns the bound off (the finiteness check stays).
        public var normBoundFactor: Float = 10
        /// Whether a contribution's norm grows with its weight, so that the norm bounds compare
        /// norms per unit of weight: local SGD's pseudo-gradients sum a member's inner steps,
        /// and a fast member's is honestly many times a slow one's. Off for gradients, which
        /// are means and do not grow with the samples behind them.
        public var normsGrowWithWeight = false
        /// How an owner combines the contributions that pass its checks (`Aggregation`): the
        /// sample-weighted mean, or a robust aggregation for runs expecting Byzantine peers.
        public var aggregation: Aggregation = .mean
        /// Whether an owner's part goes through a second stage before its averages go out, as in
        /// a step of several groups (docs/protocol.md, "Several groups in one step"): once it has
        /// reduced its part, the owner says so (`Action.partReduced`) and waits until the shell
        /// has written the average across groups over the part (`onPartAveraged`) or gives the
        /// part up (`onPartSkipped`); at the round deadline it gives it up itself.
        public var averagesPartAcrossGroups = false

        public static let defaultChunkSize = 1 << 18
        /// The smallest chunk `chunkSize(for:)` chooses.
        public static let minimumChunkSize = 1 << 12

        /// The chunk size for `plan`'s vector: the default, but small enough that an equal part
        /// spans at least eight chunks, so that a small model's round still overlaps sending,
        /// reducing and receiving, and owners can measure how fast chunks reach them
        /// (`BandwidthEstimator` needs two). Every member computes it from the same plan, so all
        /// cut the vector alike. (Sizing chunks to the slowest declared link as well made rounds
        /// on home links a little faster, and failed parts on a 16 Mbit/s member's link in the
        /// fault suite: docs/benchmarks.md, "The all-reduce alone".)
        public static func chunkSize(for plan: GroupPlan) -> Int {
            chunkSize(forElementCount: plan.elementCount, memberCount: plan.members.count)
        }

        /// The chunk size `chunkSize(for:)` takes from the vector's size.
        static func chunkSize(forElementCount elementCount: Int, memberCount: Int) -> Int {
            max(minimumChunkSize, min(defaultChunkSize, elementCount / max(1, 8 * memberCount)))
        }

        public init(compression: Compression = .none, chunkSize: Int = defaultChunkSize) {
            self.compression = compression
            self.chunkSize = chunkSize
        }
    }

    /// Which elements travel: chunk `chunk` of part `part`.
    public struct ChunkReference: Hashable, Sendable {
        public var part: Int
        public var chunk: Int
        public var elements: Range<Int>
    }

    public enum Action: Hashable, Sendable {
        /// Send this member's values of a chunk to the part's owner (`partChunk(for:)`). Encoding
        /// later is safe: an average for those elements only arrives once the owner has the chunk
        /// or has given up on it.
        case sendPartChunk(ChunkReference, to: PeerID)
        /// Send this owner's average of a chunk (`averagedChunkPayload(for:)`) to each of these peers.
        case sendAveragedChunk(ChunkReference, to: [PeerID])
        /// Call `onDeadline(now:)` at this time (or later).
        case wake(at: MonotonicInstant)
        /// This sender owes this owner chunks but has sent nothing for `silenceCheckInterval`:
        /// find out whether it is still there (ping it over its connection, or by dialling its
        /// address when it has one). If it certainly is gone (its address refuses connections,
        /// or it has no address and no connection is left), call `onPeerFailed`. A reply or a
        /// timeout changes nothing: a sender that is frozen is left out at the sender deadline.
        case checkAlive(PeerID)
        /// The peer broke the protocol or sent a part that failed the checks (`reason` says which);
        /// it is left out of the round. Close its connection.
        case dropPeer(PeerID, reason: String)
        /// The owner sent an average that no sender can have caused (`rejectBadAverages`): drop
        /// it like `dropPeer`, and ban it at once, since this is proof and not suspicion.
        case banPeer(PeerID, reason: String)
        /// This owner reduced its part (`elements`), which now holds its group's average: run the
        /// second stage over it (`Settings.averagesPartAcrossGroups`), then call `onPartAveraged`
        /// or `onPartSkipped`.
        case partReduced(elements: Range<Int>)
        /// Send `PartSkipped` for these grid parts (as bits) of this owner's part to each of
        /// these peers: their second stage failed, and every member of every group leaves them
        /// out alike.
        case sendPartSkipped(part: Int, gridParts: UInt64, to: [PeerID])
        /// The round is over; no further actions follow.
        case finished(AllReduceResult)
    }

    public let plan: GroupPlan
    public let settings: Settings
    let ownIndex: Int
    let vector: UnsafeMutableBufferPointer<Float>
    let startTime: MonotonicInstant
    var reducer: PartReducer?
    /// Per member: marked failed (connection lost, abort, garbage) — never sent to again.
    var failed: [Bool]
    /// Per member: left out by this owner at the sender deadline.
    var stalled: [Bool]
    /// Members this peer dropped for breaking the protocol or sending bad parts, in order.
    var dropped: [AllReduceResult.DroppedPeer] = []
    /// Owners whose average failed the norm check (`rejectBadAverages`), in part order.
    var outOfBoundOwners: [PeerID] = []
    /// Per part: chunks of the average still to arrive (zero for this member's own part).
    var averagesMissing: [Int]
    /// `averageReceived[part]![chunk]`, for parts owned by others.
    var averageReceived: [[Bool]]
    var partFailed: [Bool]
    var bytesSent = 0
    var bytesReceived = 0
    /// Per member: when its first and latest chunk of this owner's part arrived, and the bytes
    /// of its chunks after the first (`AllReduceResult.inboundBytesPerSecond`).
    var arrivals: [ChunkArrivals?]
    /// When this owner next looks for silent senders; nil when it no longer does.
    var nextSilenceCheck: MonotonicInstant?
    var isFinished = false
    /// Where this owner's part stands in the second stage (`Settings.averagesPartAcrossGroups`).
    var secondStage = SecondStage.reducing
    /// Grid parts (as bits) left out of parts that did not fail whole: their second stage failed.
    var skippedGridParts: UInt64 = 0
    /// Per part, the L2 norm of this member's own values there before the round, which the
    /// owner's average must stay within `Settings.normBoundFactor` of (`rejectBadAverages`).
    var contributionNorms: [Double] = []

    public init(plan: GroupPlan, peer: PeerID, vector: UnsafeMutableBufferPointer<Float>, settings: Settings, now: MonotonicInstant) {
        guard let ownIndex = plan.index(of: peer) else {
            preconditionFailure("\(peer) is not a member of plan \(plan.id)")
        }
        precondition(vector.count == plan.elementCount, "vector of \(vector.count) elements for a plan of \(plan.elementCount)")
        precondition(settings.chunkSize > 0, "chunk size \(settings.chunkSize) must be positive")
        precondition(settings.normBoundFactor >= 1, "norm bound factor \(settings.normBoundFactor) is below 1")
        precondition(settings.aggregation.problem == nil, "aggregation \(settings.aggregation): \(settings.aggregation.problem ?? "")")
        precondition(settings.silenceCheckInterval.map { $0 > .zero } ?? true,
                     "silence check interval \(settings.silenceCheckInterval!) is not positive")
        precondition(!settings.averagesPartAcrossGroups || plan.onGrid, "a second stage needs a plan on the grid, and plan \(plan.id) is not")
        precondition(settings.senderTimeout <= settings.roundTimeout,
                     "sender timeout \(settings.senderTimeout) exceeds round timeout \(settings.roundTimeout)")
        self.plan = plan
        self.settings = settings
        self.ownIndex = ownIndex
        self.vector = vector
        self.startTime = now
        let memberCount = plan.members.count
        failed = Array(repeating: false, count: memberCount)
        stalled = Array(repeating: false, count: memberCount)
        partFailed = Array(repeating: false, count: memberCount)
        arrivals = Array(repeating: nil, count: memberCount)
        let chunkCounts = plan.parts.map { ChunkLayout(part: $0, chunkSize: settings.chunkSize).chunkCount }
        averagesMissing = chunkCounts.enumerated().map { $0.offset == ownIndex ? 0 : $0.element }
        averageReceived = averagesMissing.map { Array(repeating: false, count: $0) }
    }

    func layout(ofPart part: Int) -> ChunkLayout {
        ChunkLayout(part: plan.parts[part], chunkSize: settings.chunkSize)
    }

    /// The scale an owner bounds contributions by where their median is zero: its norm of the
    /// part over finite values (an owner whose training overflowed leaves those out of its
    /// average too), or, for a part it left all at zero, its whole vector's norm in proportion
    /// to the part's length. `partNorm` is the part's norm over all its values: when finite and
    /// not zero, it is the answer already.
    static func zeroMedianScale(of vector: UnsafeMutableBufferPointer<Float>, part: Range<Int>, partNorm: Double) -> Double {
        guard !(partNorm.isFinite && partNorm > 0) else { return partNorm }
        let finitePartNorm = ContributionFault.nonFiniteCountAndNorm(of: UnsafeBufferPointer(rebasing: vector[part])).norm
        guard finitePartNorm == 0, !vector.isEmpty else { return finitePartNorm }
        let vectorNorm = ContributionFault.nonFiniteCountAndNorm(of: UnsafeBufferPointer(vector)).norm
        return vectorNorm * (Double(part.count) / Double(vector.count)).squareRoot()
    }

    var senderDeadline: MonotonicInstant { startTime + settings.senderTimeout }
    var roundDeadline: MonotonicInstant { startTime + settings.roundTimeout }

    /// Starts the round: scales this owner's values, emits every chunk to send (interleaved
    /// across owners, so all of them start reducing at once) and the wake-ups for the deadlines.
    public mutating func start() -> [Action] {
        precondition(reducer == nil && bytesSent == 0, "round \(plan.id) started twice")
        let weights = plan.weights.map { Float($0) }
        let ownLayout = layout(ofPart: ownIndex)
        contributionNorms = plan.parts.map { Self.norm(of: UnsafeBufferPointer(rebasing: vector[$0])) }
        if ownLayout.chunkCount > 0 {
            reducer = PartReducer(layout: ownLayout, compression: settings.compression, aggregation: settings.aggregation,
                                  normBoundFactor: settings.normBoundFactor, weights: weights, ownIndex: ownIndex,
                                  ownPartNorm: Self.zeroMedianScale(of: vector, part: plan.parts[ownIndex],
                                                                    partNorm: contributionNorms[ownIndex]),
                                  normsGrowWithWeight: settings.normsGrowWithWeight)
        }
        var actions: [Action] = []
        let layouts = plan.parts.indices.map { layout(ofPart: $0) }
        let mostChunks = layouts.map(\.chunkCount).max() ?? 0
        for chunk in 0..<mostChunks {
            for part in layouts.indices where part != ownIndex && chunk < layouts[part].chunkCount {
                let elements = layouts[part].elements(ofChunk: chunk)
                bytesSent += settings.compression.encodedByteCount(elementCount: elements.count)
                actions.append(.sendPartChunk(ChunkReference(part: part, chunk: chunk, elements: elements),
                                              to: plan.members[part].peer))
            }
        }
        if reducer != nil {
            actions.append(.wake(at: senderDeadline))
            actions += scheduleSilenceCheck(after: startTime)
        }
        actions.append(.wake(at: roundDeadline))
        return actions + finishIfDone(now: startTime)
    }
}

/// The chunks one sender delivered of an owner's part, for the owner's inbound rate.
struct ChunkArrivals {
    let first: MonotonicInstant
    let firstBytes: Int
    var latest: MonotonicInstant
    var bytesAfterFirst = 0

    init(bytes: Int, at time: MonotonicInstant) {
        first = time
        firstBytes = bytes
        latest = time
    }

    mutating func record(bytes: Int, at time: MonotonicInstant) {
        latest = time
        bytesAfterFirst += bytes
    }

    /// Bytes per second after the first chunk; nil until at least as many bytes as the first
    /// chunk's arrived some time after it. A short last chunk alone (a part a few values longer
    /// than one chunk) takes as long as the owner's next read, not as the link: it measures
    /// anything from a tenth to twenty times the link's rate.
    var bytesPerSecond: Double? {
        let span = (latest - first).seconds
        return bytesAfterFirst >= max(1, firstBytes) && span > 0 ? Double(bytesAfterFirst) / span : nil
    }
}
