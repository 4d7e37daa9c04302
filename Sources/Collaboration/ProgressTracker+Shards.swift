import Averaging
import CohortBase

/// The run's progress when its records are split into shards (`RunShards`): a volunteer reads
/// its own shard's records whole and one total per other shard (`ShardTotal`).
extension ProgressTracker {
    /// What the live ones of `records` (one shard's) add up to at `now`, for the other shards
    /// to read; nil when none is live.
    public func shardTotal(of records: [PeerProgress], shard: Int, now: WallClockInstant) -> ShardTotal? {
        let tallies = tallies(of: records.filter { isLive($0, now: now) }, now: now)
        guard !tallies.isEmpty else { return nil }
        let listed = Array(tallies.prefix(ShardTotal.maxSteps))
        let below = tallies.dropFirst(ShardTotal.maxSteps).reduce(0) { $0 + $1.peers }
        return ShardTotal(shard: shard, timestampMilliseconds: now.millisecondsSinceEpoch, steps: listed, peersBelow: below)
    }

    /// The run's progress from this shard's `records` and the other shards' `totals` (one per
    /// shard, as `ShardTotals.chosen` picks them; none in a run of one shard). Each shard, this
    /// one included, counts for at most `ShareCap.medianMultiple` times the median shard's live
    /// peers; a total's samples are extrapolated from its time as a record's are.
    public func globalProgress(of records: [PeerProgress], otherShards totals: [ShardTotal], now: WallClockInstant) -> GlobalProgress {
        let live = records.filter { isLive($0, now: now) }
        let weights = Self.shardWeights(ownPeers: live.count, totals: totals)
        var merged: [Int: Tally] = [:]
        var peers = 0.0
        for tally in tallies(of: live, now: now) {
            merged[tally.step, default: Tally()].add(tally, weight: weights[0], age: .zero)
            peers += Double(tally.peers) * weights[0]
        }
        for (total, weight) in zip(totals, weights.dropFirst()) {
            let age = min(max(.zero, now - total.writtenAt), extrapolationLimit)
            for tally in total.steps { merged[tally.step, default: Tally()].add(tally, weight: weight, age: age) }
            peers += Double(total.peers) * weight
        }
        // The highest step at least half of the live peers reached, as `runStep` finds it; the
        // lowest step listed when the half lies among the steps the totals do not list.
        let steps = merged.keys.sorted(by: >)
        var step = steps.last ?? 0
        var reached = 0.0
        for candidate in steps {
            reached += merged[candidate]!.peers
            if reached * 2 >= peers {
                step = candidate
                break
            }
        }
        let atStep = merged[step] ?? Tally()
        let missing = Double(targetBatchSize) - atStep.samples.rounded(.down)
        let seconds = missing <= 0 ? 0 : (atStep.rate > 0 ? missing / atStep.rate : .infinity)
        // At most 2²⁰ peers × (2³¹ samples + 10⁹ samples/s × 5 s) per shard: far below Int.max,
        // but a total is a claim, so the conversion saturates rather than trusting that.
        return GlobalProgress(step: step, samplesAccumulated: Int(min(atStep.samples, 1e18)), targetBatchSize: targetBatchSize,
                              samplesPerSecond: atStep.rate, peersAtStep: Int(atStep.peers.rounded()),
                              peersCatchingUp: Int((merged[step - 1]?.recent ?? 0).rounded()), secondsToTarget: seconds)
    }

    /// How much each shard counts, this one (with `ownPeers` live peers) first, then each of
    /// `totals`: 1, or less for a shard that claims more than `ShareCap.medianMultiple` times
    /// the median shard's live peers, which then counts for that many.
    public static func shardWeights(ownPeers: Int, totals: [ShardTotal]) -> [Double] {
        let sizes = [UInt64(ownPeers)] + totals.map { UInt64($0.peers) }
        return zip(sizes, ShareCap.capped(sizes)).map { size, kept in size > 0 ? Double(kept) / Double(size) : 0 }
    }

    /// Per step of `live`, highest first: its peers, how many wrote recently, and their capped,
    /// extrapolated samples and throughput.
    func tallies(of live: [PeerProgress], now: WallClockInstant) -> [ShardTotal.StepTally] {
        Dictionary(grouping: live, by: \.step).sorted { $0.key > $1.key }.map { step, records in
            let extrapolated = records.map { record -> UInt64 in
                let age = min(max(.zero, now - record.writtenAt), extrapolationLimit)
                return UInt64(Double(record.samplesAccumulated) + record.samplesPerSecond * Double(age.wholeMilliseconds) / 1000)
            }
            let recent = records.filter { (.zero...catchingUpWithin).contains(now - $0.writtenAt) }.count
            return ShardTotal.StepTally(
                step: step, peers: records.count, recentPeers: recent,
                samples: Int(ShareCap.capped(extrapolated).reduce(0, +)),
                samplesPerSecond: Double(ShareCap.capped(records.map { UInt64($0.samplesPerSecond) }).reduce(0, +)))
        }
    }
}

/// One step's counts summed over shards, each weighed by its cap.
private struct Tally {
    var peers = 0.0
    var recent = 0.0
    var samples = 0.0
    var rate = 0.0

    mutating func add(_ tally: ShardTotal.StepTally, weight: Double, age: Duration) {
        peers += Double(tally.peers) * weight
        recent += Double(tally.recentPeers) * weight
        samples += (Double(tally.samples) + tally.samplesPerSecond * Double(age.wholeMilliseconds) / 1000) * weight
        rate += tally.samplesPerSecond * weight
    }
}

/// Which of the shard totals read a volunteer believes.
public enum ShardTotals {
    /// Per shard other than `ownShard`, one total: of the live ones its shard's members wrote
    /// about it (a writer speaks only for its own shard), those of the `reportersPerShard`
    /// lowest writer ids, merged field by field into their lower medians (a step or state a
    /// reporter does not list counts 0 there). One liar among three reporters moves no field
    /// beyond what an honest one says; of two, it can only lower them. Ordered by shard.
    public static func chosen(from records: [OwnedRecord<ShardTotal>], shards: RunShards, ownShard: Int,
                              tracker: ProgressTracker, now: WallClockInstant) -> [ShardTotal] {
        // Every volunteer reads every shard's totals at every look: indices of the lowest
        // writers, kept in order as they come, and no copy of a record until its shard's median.
        var lowest = [[Int]](repeating: [], count: shards.count)
        for index in records.indices {
            let writer = records[index].writer, shard = records[index].value.shard
            guard shard != ownShard, shard == shards.shard(of: writer),
                  tracker.isLive(writtenAt: records[index].value.writtenAt, now: now) else { continue }
            let position = lowest[shard].firstIndex { writer < records[$0].writer } ?? lowest[shard].count
            guard position < RunShards.reportersPerShard else { continue }
            lowest[shard].insert(index, at: position)
            if lowest[shard].count > RunShards.reportersPerShard { lowest[shard].removeLast() }
        }
        return lowest.indices.compactMap { shard in
            lowest[shard].isEmpty ? nil : median(of: lowest[shard].map { records[$0].value }, shard: shard)
        }
    }

    /// `totals` (one shard's, from one to three reporters) merged into their fieldwise lower
    /// medians; nil when no step keeps a peer.
    static func median(of totals: [ShardTotal], shard: Int) -> ShardTotal? {
        func lowerMedian<Value: Comparable>(_ values: [Value]) -> Value { values.sorted()[(values.count - 1) / 2] }
        let steps = Set(totals.flatMap { $0.steps.map(\.step) }).sorted(by: >).compactMap { step -> ShardTotal.StepTally? in
            let listed = totals.map { total in total.steps.first { $0.step == step } }
            let peers = lowerMedian(listed.map { $0?.peers ?? 0 })
            guard peers > 0 else { return nil }
            return ShardTotal.StepTally(step: step, peers: peers, recentPeers: min(peers, lowerMedian(listed.map { $0?.recentPeers ?? 0 })),
                                        samples: lowerMedian(listed.map { $0?.samples ?? 0 }),
                                        samplesPerSecond: lowerMedian(listed.map { $0?.samplesPerSecond ?? 0 }))
        }
        guard !steps.isEmpty else { return nil }
        let peers = steps.reduce(0) { $0 + $1.peers } + lowerMedian(totals.map(\.peersBelow))
        var stateKeys: [(step: Int, hash: [UInt8])] = []
        for total in totals {
            for state in total.states where !stateKeys.contains(where: { $0.step == state.step && $0.hash == state.hash }) {
                stateKeys.append((state.step, state.hash))
            }
        }
        let states = stateKeys.compactMap { key -> ShardTotal.StateTally? in
            let voters = min(peers, lowerMedian(totals.map { total in
                total.states.first { $0.step == key.step && $0.hash == key.hash }?.voters ?? 0 }))
            return voters > 0 ? ShardTotal.StateTally(step: key.step, hash: key.hash, voters: voters) : nil
        }
        return ShardTotal(shard: shard, timestampMilliseconds: lowerMedian(totals.map(\.timestampMilliseconds)), steps: steps,
                          peersBelow: lowerMedian(totals.map(\.peersBelow)), states: states)
    }
}
