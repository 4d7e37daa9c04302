import CohortBase

/// What one shard's live progress records add up to, as one of its members counted them:
/// stored under the run's shard-totals key (`RunKeys.shardTotals`) for the other shards to read.
///
/// Only a shard's reporters (its `RunShards.reportersPerShard` lowest live ids) write one, each
/// time it publishes its own progress. A reader takes, per shard, the median of what the lowest
/// writers of that shard say (`ShardTotals.chosen`), and counts a shard for at most
/// `ShareCap.medianMultiple` times the median shard: identities that make themselves a shard's
/// reporters move at most that much of the run's count.
public struct ShardTotal: Equatable, Sendable {
    /// The live peers of the shard at one step, with their samples and throughput (each peer's
    /// capped by `ShareCap` within the shard, as the tracker caps them).
    public struct StepTally: Equatable, Sendable {
        public var step: Int
        public var peers: Int
        /// Peers at the step whose record was at most `RunTimings.catchingUpWithin` old.
        public var recentPeers: Int
        public var samples: Int
        public var samplesPerSecond: Double

        public init(step: Int, peers: Int, recentPeers: Int, samples: Int, samplesPerSecond: Double) {
            self.step = step
            self.peers = peers
            self.recentPeers = recentPeers
            self.samples = samples
            self.samplesPerSecond = samplesPerSecond
        }
    }

    /// The shard's live peers that hold one state, by their latest announcements: the shard's
    /// votes in the run's state election (`StateElection`), since a volunteer reads only its
    /// own shard's announcements.
    public struct StateTally: Equatable, Sendable {
        public var step: Int
        public var hash: [UInt8]
        public var voters: Int

        public init(step: Int, hash: [UInt8], voters: Int) {
            self.step = step
            self.hash = hash
            self.voters = voters
        }
    }

    public var shard: Int
    public var timestampMilliseconds: UInt64
    public var writtenAt: WallClockInstant { WallClockInstant(millisecondsSinceEpoch: timestampMilliseconds) }
    /// The highest steps of the shard's live peers, highest first.
    public var steps: [StepTally]
    /// Live peers at lower steps than those listed.
    public var peersBelow: Int
    /// The states most of the shard's live peers hold, most voters first.
    public var states: [StateTally]

    public init(shard: Int, timestampMilliseconds: UInt64, steps: [StepTally], peersBelow: Int, states: [StateTally] = []) {
        self.shard = shard
        self.timestampMilliseconds = timestampMilliseconds
        self.steps = steps
        self.peersBelow = peersBelow
        self.states = states
    }

    /// Live peers of the shard.
    public var peers: Int { steps.reduce(peersBelow) { $0 + $1.peers } }

    /// Steps a total lists at most: a run's live peers are within a step or two of each other.
    public static let maxSteps = 4
    /// States a total lists at most.
    public static let maxStates = 2
    /// Peers one shard may claim.
    public static let maxPeers = 1 << 20

    private static let headerSize = 4 + 8 + 4 + 1
    private static let tallySize = 8 + 4 + 4 + 8 + 8
    private static let stateTallySize = 8 + 4 + 32

    /// Little-endian: shard (4), timestamp (8), peers below (4), tally count (1), then per
    /// tally step (8), peers (4), recent peers (4), samples (8), samples/s (8); then the state
    /// count (1) and per state its step (8), voters (4) and hash (32).
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerSize + steps.count * Self.tallySize + 1 + states.count * Self.stateTallySize)
        func append<Word: FixedWidthInteger>(_ value: Word) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(UInt32(shard))
        append(timestampMilliseconds)
        append(UInt32(peersBelow))
        bytes.append(UInt8(steps.count))
        for tally in steps {
            append(UInt64(tally.step))
            append(UInt32(tally.peers))
            append(UInt32(tally.recentPeers))
            append(UInt64(tally.samples))
            append(tally.samplesPerSecond.bitPattern)
        }
        bytes.append(UInt8(states.count))
        for state in states {
            append(UInt64(state.step))
            append(UInt32(state.voters))
            bytes += state.hash
        }
        return bytes
    }

    public struct DecodingError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Decodes and validates a total written by another peer.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        func fail(_ reason: String) -> DecodingError { DecodingError(description: "shard total " + reason) }
        guard bytes.count >= Self.headerSize else { throw fail("has \(bytes.count) bytes, fewer than \(Self.headerSize)") }
        func word(_ start: Int, _ size: Int) -> UInt64 {
            (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[start + $1]) << (8 * UInt64($1)) }
        }
        let count = Int(bytes[16])
        guard count >= 1, count <= Self.maxSteps else { throw fail("lists \(count) steps, expected 1–\(Self.maxSteps)") }
        let statesAt = Self.headerSize + count * Self.tallySize
        guard bytes.count > statesAt else { throw fail("has \(bytes.count) bytes, too few for \(count) steps") }
        let stateCount = Int(bytes[statesAt])
        guard stateCount <= Self.maxStates else { throw fail("lists \(stateCount) states, at most \(Self.maxStates)") }
        guard bytes.count == statesAt + 1 + stateCount * Self.stateTallySize else {
            throw fail("has \(bytes.count) bytes, expected \(statesAt + 1 + stateCount * Self.stateTallySize) for \(count) steps and \(stateCount) states")
        }
        let shard = word(0, 4), below = word(12, 4)
        guard shard < UInt64(RunShards.maxCount) else { throw fail("names shard \(shard), beyond \(RunShards.maxCount - 1)") }
        var tallies: [StepTally] = []
        var peers = below
        for index in 0..<count {
            let start = Self.headerSize + index * Self.tallySize
            let step = word(start, 8), stepPeers = word(start + 8, 4), recent = word(start + 12, 4), samples = word(start + 16, 8)
            let rate = Double(bitPattern: word(start + 24, 8))
            guard stepPeers >= 1, recent <= stepPeers else { throw fail("counts no peer at step \(step), or more recent peers than peers") }
            // A peer's record holds at most 2³¹ − 1 samples and 10⁹ samples/s: a shard's step, no
            // more than its peers' worth, so sums over 1,024 shards stay far from overflow.
            guard step <= UInt64(Int32.max), samples <= UInt64(Int32.max) * stepPeers else {
                throw fail("step or sample count is out of range")
            }
            guard rate.isFinite, rate >= 0, rate < 1e9 * Double(stepPeers) else { throw fail("has an invalid throughput") }
            if let last = tallies.last, last.step <= Int(step) { throw fail("steps are not listed highest first") }
            peers += stepPeers
            tallies.append(StepTally(step: Int(step), peers: Int(stepPeers), recentPeers: Int(recent), samples: Int(samples),
                                     samplesPerSecond: rate))
        }
        guard peers <= UInt64(Self.maxPeers) else { throw fail("counts \(peers) peers, more than \(Self.maxPeers)") }
        var states: [StateTally] = []
        for index in 0..<stateCount {
            let start = statesAt + 1 + index * Self.stateTallySize
            let step = word(start, 8), voters = word(start + 8, 4)
            guard step <= UInt64(Int32.max), voters >= 1, voters <= peers else {
                throw fail("state \(index) has step \(step) or \(voters) voters out of range")
            }
            states.append(StateTally(step: Int(step), hash: Array(bytes[(start + 12)..<(start + 44)]), voters: Int(voters)))
        }
        self.init(shard: Int(shard), timestampMilliseconds: word(4, 8), steps: tallies, peersBelow: Int(below), states: states)
    }
}
