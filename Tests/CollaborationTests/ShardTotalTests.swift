import CohortBase
import Testing
@testable import Collaboration

@Suite struct ShardTotalTests {
    let now = WallClockInstant(millisecondsSinceEpoch: 100_000)

    func record(step: Int, samples: Int, rate: Double = 10, ageMilliseconds: UInt64 = 0) -> PeerProgress {
        PeerProgress(step: step, samplesAccumulated: samples, samplesPerSecond: rate, loss: 2,
                     timestampMilliseconds: now.millisecondsSinceEpoch - ageMilliseconds)
    }

    /// A peer id whose fourth byte puts it in `shard` of 4 and whose last byte orders it.
    func peer(shard: Int, _ order: UInt8) -> PeerID {
        PeerID(bytes: [0, 0, 0, UInt8(shard)] + [UInt8](repeating: 0, count: 27) + [order])!
    }

    func total(shard: Int, peers: Int, step: Int = 5, samples: Int = 10) -> ShardTotal {
        ShardTotal(shard: shard, timestampMilliseconds: now.millisecondsSinceEpoch,
                   steps: [.init(step: step, peers: peers, recentPeers: 0, samples: samples, samplesPerSecond: 10)], peersBelow: 0)
    }

    @Test func aTotalSurvivesItsEncoding() throws {
        let total = ShardTotal(shard: 1023, timestampMilliseconds: 1_800_000_000_000, steps: [
            .init(step: 9, peers: 30, recentPeers: 2, samples: 1_000, samplesPerSecond: 412.5),
            .init(step: 8, peers: 3, recentPeers: 3, samples: 0, samplesPerSecond: 12)], peersBelow: 7,
            states: [.init(step: 9, hash: [UInt8](repeating: 3, count: 32), voters: 28), .init(step: 8, hash: [UInt8](repeating: 4, count: 32), voters: 2)])
        #expect(try ShardTotal(decoding: total.encoded) == total)
        #expect(total.peers == 40)
        var tooManyVoters = total
        tooManyVoters.states[0].voters = 41
        #expect(throws: ShardTotal.DecodingError.self) { try ShardTotal(decoding: tooManyVoters.encoded) }
    }

    /// `bytes`, a total of two steps, spoiled as `what` says.
    static func corrupt(_ bytes: inout [UInt8], _ what: String) {
        func put<Word: FixedWidthInteger>(_ value: Word, at offset: Int) {
            bytes.replaceSubrange(offset..<offset + Word.bitWidth / 8, with: withUnsafeBytes(of: value.littleEndian, Array.init))
        }
        switch what {
        case "no step": bytes[16] = 0; bytes.removeLast(32)
        case "five steps": bytes[16] = 5
        case "a byte short": bytes.removeLast()
        case "shard 1024": put(UInt32(1024), at: 0)
        case "no peer at a step": put(UInt32(0), at: 25)
        case "more recent peers than peers": put(UInt32(200), at: 29)
        case "a NaN throughput": put(Double.nan.bitPattern, at: 41)
        case "a million peers below": put(UInt32(1 << 20), at: 12)
        case "steps listed lowest first": put(UInt64(10), at: 49)
        case "more samples than its peers hold": put(UInt64(Int32.max) * 30 + 1, at: 33)
        default: Issue.record("no such corruption: \(what)")
        }
    }

    @Test(arguments: ["no step", "five steps", "a byte short", "shard 1024", "no peer at a step", "more recent peers than peers",
                      "a NaN throughput", "a million peers below", "steps listed lowest first", "more samples than its peers hold"])
    func aMalformedTotalIsRefused(_ what: String) {
        var bytes = ShardTotal(shard: 1, timestampMilliseconds: 5, steps: [
            .init(step: 9, peers: 30, recentPeers: 2, samples: 1_000, samplesPerSecond: 1),
            .init(step: 8, peers: 3, recentPeers: 3, samples: 0, samplesPerSecond: 12)], peersBelow: 1).encoded
        #expect((try? ShardTotal(decoding: bytes)) != nil)
        Self.corrupt(&bytes, what)
        #expect(throws: ShardTotal.DecodingError.self, "\(what)") { try ShardTotal(decoding: bytes) }
    }

    @Test func theRunCountedByShardsIsTheRunCountedWhole() throws {
        // Twelve peers in three shards: the run seen from shard 0 with the others' totals is the
        // run seen from all records.
        let tracker = ProgressTracker(targetBatchSize: 400)
        let shards = [[record(step: 6, samples: 30), record(step: 6, samples: 20, ageMilliseconds: 1_000), record(step: 5, samples: 0)],
                      [record(step: 6, samples: 10), record(step: 6, samples: 15), record(step: 6, samples: 0, ageMilliseconds: 500),
                       record(step: 5, samples: 0, ageMilliseconds: 1_000)],
                      [record(step: 6, samples: 25), record(step: 6, samples: 25), record(step: 4, samples: 70), record(step: 6, samples: 5)]]
        let whole = tracker.globalProgress(of: shards.flatMap { $0 }, now: now)
        let totals = try (1...2).map { try #require(tracker.shardTotal(of: shards[$0], shard: $0, now: now)) }
        let sharded = tracker.globalProgress(of: shards[0], otherShards: totals, now: now)
        #expect(sharded.step == whole.step)
        #expect(sharded.samplesAccumulated == whole.samplesAccumulated)
        #expect(sharded.samplesPerSecond == whole.samplesPerSecond)
        #expect(sharded.peersAtStep == whole.peersAtStep)
        #expect(sharded.peersCatchingUp == whole.peersCatchingUp)
        #expect(sharded.secondsToTarget == whole.secondsToTarget)
    }

    @Test func theRunStepNeedsHalfOfThePeersOfAllShards() throws {
        // Shard 0 is at step 8, but the two other shards, most of the run, are at step 7.
        let tracker = ProgressTracker(targetBatchSize: 400)
        let own = [record(step: 8, samples: 10), record(step: 8, samples: 10)]
        let progress = tracker.globalProgress(of: own, otherShards: [total(shard: 1, peers: 3, step: 7), total(shard: 2, peers: 3, step: 7)],
                                              now: now)
        #expect(progress.step == 7)
        #expect(progress.peersAtStep == 6)
    }

    @Test func aShardClaimingAMillionPeersCountsForTwiceTheMedianShard() {
        // Identities that made themselves shard 3's reporters claim most of the run at a far step.
        let tracker = ProgressTracker(targetBatchSize: 10_000)
        let own = (0..<4).map { _ in record(step: 5, samples: 10) }
        let liar = ShardTotal(shard: 3, timestampMilliseconds: now.millisecondsSinceEpoch,
                              steps: [.init(step: 1_000, peers: 1_000_000, recentPeers: 0, samples: 1 << 40, samplesPerSecond: 1e12)],
                              peersBelow: 0)
        let progress = tracker.globalProgress(of: own, otherShards: [total(shard: 1, peers: 4), total(shard: 2, peers: 4), liar], now: now)
        #expect(progress.step == 5, "a shard counted as 8 of 20 peers cannot move the run's step")
        #expect(progress.peersAtStep == 12)
    }

    @Test func aReaderBelievesTheMedianOfTheShardsLowestReporters() {
        let tracker = ProgressTracker(targetBatchSize: 100)
        let shards = try! RunShards(count: 4)
        let records = [
            OwnedRecord(writer: peer(shard: 1, 1), value: total(shard: 1, peers: 40)),
            OwnedRecord(writer: peer(shard: 1, 2), value: total(shard: 1, peers: 900_000)),
            OwnedRecord(writer: peer(shard: 1, 3), value: total(shard: 1, peers: 41)),
            // A fourth writer is not among the lowest three: its total is not read.
            OwnedRecord(writer: peer(shard: 1, 4), value: total(shard: 1, peers: 1)),
        ]
        let chosen = ShardTotals.chosen(from: records, shards: shards, ownShard: 0, tracker: tracker, now: now)
        #expect(chosen.map(\.peers) == [41])
    }

    @Test func aLiarAmongThreeReportersMovesNoFieldBeyondWhatAnHonestOneSays() throws {
        // The liar claims the middle peer count, so that a choice of one whole total by peers
        // would take its samples, its throughput and its state.
        let tracker = ProgressTracker(targetBatchSize: 100)
        let honest = [UInt8](repeating: 1, count: 32), forged = [UInt8](repeating: 9, count: 32)
        func reported(peers: Int, samples: Int, rate: Double, state: [UInt8], voters: Int) -> ShardTotal {
            ShardTotal(shard: 1, timestampMilliseconds: now.millisecondsSinceEpoch,
                       steps: [.init(step: 5, peers: peers, recentPeers: 0, samples: samples, samplesPerSecond: rate)], peersBelow: 0,
                       states: [.init(step: 5, hash: state, voters: voters)])
        }
        let records = [
            OwnedRecord(writer: peer(shard: 1, 1), value: reported(peers: 40, samples: 100, rate: 10, state: honest, voters: 40)),
            OwnedRecord(writer: peer(shard: 1, 2), value: reported(peers: 41, samples: 1 << 40, rate: 1e9, state: forged, voters: 41)),
            OwnedRecord(writer: peer(shard: 1, 3), value: reported(peers: 42, samples: 110, rate: 12, state: honest, voters: 42)),
        ]
        let chosen = try #require(ShardTotals.chosen(from: records, shards: try RunShards(count: 4), ownShard: 0, tracker: tracker, now: now).first)
        #expect(chosen.peers == 41)
        #expect(chosen.steps.map(\.samples) == [110] && chosen.steps.map(\.samplesPerSecond) == [12])
        #expect(chosen.states == [.init(step: 5, hash: honest, voters: 40)], "a state one reporter alone lists gets no votes")
    }

    @Test func aWriterSpeaksOnlyForItsOwnShardAndOnlyWhileLive() {
        let tracker = ProgressTracker(targetBatchSize: 100)
        let shards = try! RunShards(count: 4)
        var stale = total(shard: 2, peers: 9)
        stale.timestampMilliseconds -= UInt64((RunTimings.progressStaleAfter + .seconds(1)) / .milliseconds(1))
        let records = [
            OwnedRecord(writer: peer(shard: 1, 1), value: total(shard: 3, peers: 40)),
            OwnedRecord(writer: peer(shard: 2, 1), value: stale),
            OwnedRecord(writer: peer(shard: 0, 1), value: total(shard: 0, peers: 5)),
            OwnedRecord(writer: peer(shard: 3, 1), value: total(shard: 3, peers: 7)),
        ]
        let chosen = ShardTotals.chosen(from: records, shards: shards, ownShard: 0, tracker: tracker, now: now)
        #expect(chosen.map(\.shard) == [3])
        #expect(chosen.map(\.peers) == [7])
    }

    @Test func aShardTotalListsItsHighestStepsAndCountsTheRestBelow() throws {
        let tracker = ProgressTracker(targetBatchSize: 100)
        let records = (0..<6).map { record(step: 10 - $0, samples: 1) } + [record(step: 3, samples: 1, ageMilliseconds: 60_000)]
        let total = try #require(tracker.shardTotal(of: records, shard: 2, now: now))
        #expect(total.steps.map(\.step) == [10, 9, 8, 7])
        #expect(total.peersBelow == 2, "the stale record is not counted")
        #expect(tracker.shardTotal(of: [record(step: 1, samples: 1, ageMilliseconds: 60_000)], shard: 2, now: now) == nil)
    }

    @Test func aPeerFallsInTheShardOfItsIdsFirstBytes() throws {
        let shards = try RunShards(count: 4)
        #expect((0..<4).map { shards.shard(of: peer(shard: $0, 9)) } == [0, 1, 2, 3])
        #expect(RunShards.one.shard(of: peer(shard: 3, 9)) == 0)
        for refused in [0, 2, 3, 2048] {
            #expect(throws: RunShards.Error.self, "\(refused) shards") { try RunShards(count: refused) }
        }
        let keys = RunKeys(runName: "r")
        #expect(keys.progress(shard: 0, of: .one) == keys.progress)
        #expect(keys.state(shard: 0, of: .one) == keys.state)
        #expect(Set((0..<4).map { keys.progress(shard: $0, of: shards) }).count == 4)
        #expect(!(0..<4).map { keys.progress(shard: $0, of: shards) }.contains(keys.progress))
    }

    @Test func aLargeRunSplitsEachStepsDeclarationsIntoBucketsOfWholeShards() throws {
        let shards = try RunShards(count: 256)
        // A bucket holds at least 32 declarers, and there is at most one per shard.
        #expect([1, 63, 64, 127, 128, 4_000, 10_000, 100_000].map { shards.declarationBuckets(runPeers: $0) } == [1, 1, 2, 2, 4, 64, 256, 256])
        #expect(RunShards.one.declarationBuckets(runPeers: 100_000) == 1)
        #expect(try RunShards(count: 4).declarationBuckets(runPeers: 10_000) == 4)
        let state = [UInt8](repeating: 7, count: 32)
        let key = shards.matchmakingKey(of: peer(shard: 77, 1), step: 3, stateHash: state, runPeers: 4_000)
        #expect(key == MatchmakingKey(step: 3, stateHash: state, bucket: 77 % 64, buckets: 64))
        let keys = RunKeys(runName: "r")
        #expect(keys.declarations(MatchmakingKey(step: 3, stateHash: state)) == keys.declarations(step: 3, state: state))
        #expect(keys.plan(MatchmakingKey(step: 3, stateHash: state)) == keys.plan(step: 3, state: state))
        let bucketed = [key, MatchmakingKey(step: 3, stateHash: state, bucket: 13, buckets: 128), MatchmakingKey(step: 3, stateHash: state, bucket: 14, buckets: 64)]
        #expect(Set(bucketed.map(keys.declarations) + [keys.declarations(step: 3, state: state)]).count == 4)
        #expect(Set(bucketed.map(keys.plan)).isDisjoint(with: bucketed.map(keys.declarations)))
    }
}
