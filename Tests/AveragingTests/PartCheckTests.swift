import CohortBase
import Testing
@testable import Averaging

/// An owner's checks on the chunks it receives (`AllReduceRound.Settings.normBoundFactor`):
/// non-finite and out-of-bound contributions drop their sender, honest ones stay.
@Suite struct PartCheckTests {
    static let compressions: [Compression] = [.none, .float16, .blockwiseInt8(blockSize: 64)]

    /// Five members; members 0–3 own parts, member 4 is in client mode and sends `bad(values)`.
    static func groupWithBadSender(compression: Compression, seed: UInt64, aggregation: Aggregation = .mean,
                                   bad: ([Float]) -> [Float]) -> SimulatedGroup {
        var random = SeededRandom(seed: seed)
        let samples: [UInt64] = [10, 20, 30, 40, 500]
        let members = (0..<5).map { (index: Int) -> Declaration in
            declaration(peerID(UInt8(index + 1)), bandwidth: UInt64(index + 1) * 1_000_000, clientMode: index == 4,
                        samples: samples[index])
        }
        let plan = GroupPlan(step: 41, elementCount: 1_000, members: members)!
        var vectors = (0..<5).map { _ in (0..<1_000).map { _ in Float.random(in: -1...1, using: &random) } }
        vectors[4] = bad(vectors[4])
        var settings = AllReduceRound.Settings(compression: compression, chunkSize: 50)
        settings.aggregation = aggregation
        return SimulatedGroup(plan: plan, vectors: vectors, settings: settings, seed: random.next())
    }

    /// The four honest members end with the exact weighted mean of their own values, without
    /// waiting for a deadline, and each owner reports why it dropped member 4.
    static func checkBadSenderDropped(_ group: SimulatedGroup, compression: Compression, reasonContains text: String) {
        AllReduceTests.checkAverages(group, compression: compression, members: Array(0..<4))
        #expect(!group.contributions.contains { $0[0] == 4 }, "nothing from the bad sender is reduced")
        for index in 0..<4 {
            guard let result = group.members[index].result else { continue }
            #expect(result.isComplete && result.duration == .zero)
            #expect(result.leftOut == [peerID(5)])
            #expect(result.totalSamples == group.plan.totalSamples - 500)
            #expect(result.dropped.map(\.peer) == [peerID(5)])
            #expect(result.dropped.allSatisfy { $0.reason.contains(text) && $0.reason.contains("from 0505…") },
                    "\(result.dropped)")
        }
    }

    @Test(arguments: compressions)
    func aMemberSendingNonFiniteValuesIsDroppedAndTheOthersAverageExactly(compression: Compression) {
        var group = Self.groupWithBadSender(compression: compression, seed: 11) { values in
            values.indices.map { index in
                index % 7 == 0 ? .nan : index % 11 == 0 ? .infinity : values[index]
            }
        }
        group.run()
        Self.checkBadSenderDropped(group, compression: compression, reasonContains: "non-finite values")
    }

    @Test(arguments: compressions)
    func aMemberSendingAScaledGradientIsDropped(compression: Compression) {
        var group = Self.groupWithBadSender(compression: compression, seed: 12) { $0.map { $0 * 1_000 } }
        group.run()
        Self.checkBadSenderDropped(group, compression: compression, reasonContains: "× the median")
    }

    @Test(arguments: compressions)
    func aSlightlyLargerHonestGradientStays(compression: Compression) {
        var group = Self.groupWithBadSender(compression: compression, seed: 13) { $0.map { $0 * 2 } }
        group.run()
        AllReduceTests.checkAverages(group, compression: compression, valueScale: 2)
        #expect(group.members.allSatisfy { $0.dropped.isEmpty && $0.result?.dropped == [] })
        #expect(group.members.allSatisfy { $0.result?.leftOut == [] })
    }

    /// An owner's own chunk that is not finite is left out of its average (`PartReducer.finalise`)
    /// and so out of the median the bound compares with: with the two senders left the bound
    /// judges nobody, where a norm made of the owner's finite values alone dropped an honest
    /// sender twenty times longer than the other.
    @Test func anOwnersNonFiniteChunkIsLeftOutOfTheMedian() {
        let plan = GroupPlan(step: 41, elementCount: 300, members: (1...3).map { declaration(peerID(UInt8($0))) })!
        var random = SeededRandom(seed: 16)
        var vectors = (0..<3).map { member in (0..<300).map { _ in Float.random(in: -1...1, using: &random) * (member == 2 ? 20 : 1) } }
        vectors[0][plan.parts[0].lowerBound] = .infinity
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: AllReduceRound.Settings(chunkSize: 100), seed: 17)
        group.run()
        #expect(group.members[0].dropped == [] && group.members[0].result?.dropped == [], "\(group.members[0].dropped)")
        #expect(group.members.allSatisfy { $0.vector[plan.parts[0].lowerBound].isFinite })
    }

    @Test func withTwoMembersTheNormBoundDropsNobody() {
        let plan = GroupPlan(step: 41, elementCount: 400, members: [declaration(peerID(1)), declaration(peerID(2))])!
        var random = SeededRandom(seed: 14)
        let small = (0..<400).map { _ in Float.random(in: -1...1, using: &random) }
        let large = small.map { $0 * 1_000 }
        let settings = AllReduceRound.Settings(chunkSize: 32)
        var group = SimulatedGroup(plan: plan, vectors: [small, large], settings: settings, seed: 15)
        group.run()
        AllReduceTests.checkAverages(group, compression: .none, valueScale: 1_000)
        #expect(group.members.allSatisfy { $0.dropped.isEmpty && $0.result?.leftOut == [] })
    }

    // MARK: One owner, chunks fed by hand

    /// Four members with equal weights; member 0 owns elements 0..<8, two chunks of 4.
    static let plan = GroupPlan(step: 41, elementCount: 32, members: (1...4).map { declaration(peerID(UInt8($0))) })!

    static func owner(values: Float) -> SimulatedMember {
        let owner = SimulatedMember(plan: plan, index: 0, values: [Float](repeating: values, count: 32),
                                    settings: AllReduceRound.Settings(compression: .none, chunkSize: 4))
        _ = owner.round.start()
        return owner
    }

    static func chunk(_ chunk: Int, from sender: Int, values: [Float]) -> PartChunk {
        PartChunk(roundID: plan.id, step: plan.step, part: 0, chunk: chunk, sender: peerID(UInt8(sender + 1)), compression: .none,
                  bytes: values.withUnsafeBytes { Array($0) }[...])
    }

    static func dropped(_ actions: [AllReduceRound.Action]) -> [AllReduceRound.Action] {
        actions.filter { if case .dropPeer = $0 { true } else { false } }
    }

    @Test func aNonFiniteChunkDropsItsSenderOnArrival() {
        let owner = Self.owner(values: 1)
        let actions = owner.round.onPartChunk(Self.chunk(1, from: 3, values: [1, .nan, -.infinity, 1]), now: .zero)
        #expect(actions == [.dropPeer(peerID(4), reason: "chunk 1 of part 0 from 0404…: 2 non-finite values")])
        for chunk in 0..<2 {
            for sender in 1...2 {
                _ = owner.round.onPartChunk(Self.chunk(chunk, from: sender, values: [1, 1, 1, 1]), now: .zero)
            }
        }
        #expect(Array(owner.vector[0..<8]) == [Float](repeating: 1, count: 8))
    }

    @Test func anOutOfBoundChunkDropsItsSenderAndItsHeldChunksAreDiscarded() {
        let owner = Self.owner(values: 1)
        // Sender 3's chunk 1 is held while chunk 0 waits; its chunk 0 is 1000× the others.
        var actions = owner.round.onPartChunk(Self.chunk(1, from: 3, values: [1_000, 1_000, 1_000, 1_000]), now: .zero)
        actions += owner.round.onPartChunk(Self.chunk(0, from: 3, values: [1_000, 1_000, 1_000, 1_000]), now: .zero)
        for chunk in 0..<2 {
            for sender in 1...2 {
                let values = [Float](repeating: Float(sender), count: 4)
                actions += owner.round.onPartChunk(Self.chunk(chunk, from: sender, values: values), now: .zero)
            }
        }
        let reason = "chunk 0 of part 0 from 0404…: norm 2000 is 1000× the median 2.0"
        #expect(Self.dropped(actions) == [.dropPeer(peerID(4), reason: reason)])
        // Both chunks average the owner and senders 1 and 2: (1 + 1 + 2) / 3.
        #expect(Array(owner.vector[0..<8]) == [Float](repeating: 4.0 / 3.0, count: 8))
    }

    @Test func aSenderThatFailedAfterSendingAnOutOfBoundChunkIsStillLeftOutOfIt() {
        let owner = Self.owner(values: 1)
        var actions = owner.round.onPartChunk(Self.chunk(0, from: 3, values: [1_000, 1_000, 1_000, 1_000]), now: .zero)
        actions += owner.round.onPeerFailed(peerID(4), now: .zero)
        for sender in 1...2 {
            let values = [Float](repeating: Float(sender), count: 4)
            actions += owner.round.onPartChunk(Self.chunk(0, from: sender, values: values), now: .zero)
        }
        #expect(Self.dropped(actions).count == 1)
        #expect(Array(owner.vector[0..<4]) == [Float](repeating: 4.0 / 3.0, count: 4))
    }

    @Test func aChunkMostMembersLeaveAtZeroIsNotJudged() {
        let owner = Self.owner(values: 0)
        var actions: [AllReduceRound.Action] = []
        for chunk in 0..<2 {
            for sender in 1...3 {
                let values: [Float] = sender == 3 ? [4, 4, 4, 4] : [0, 0, 0, 0]
                actions += owner.round.onPartChunk(Self.chunk(chunk, from: sender, values: values), now: .zero)
            }
        }
        #expect(Self.dropped(actions).isEmpty, "an unseen embedding row is zero for most members")
        #expect(Array(owner.vector[0..<8]) == [Float](repeating: 1, count: 8))
    }

    @Test func theDroppedSendersAreInTheResult() {
        let owner = Self.owner(values: 1)
        _ = owner.round.onPartChunk(Self.chunk(0, from: 3, values: [.nan, 1, 1, 1]), now: .zero)
        let actions = owner.round.onDeadline(now: .zero + owner.round.settings.roundTimeout)
        guard case .finished(let result) = actions.last else {
            Issue.record("the round did not finish at its deadline: \(actions)")
            return
        }
        let reason = "chunk 0 of part 0 from 0404…: 1 non-finite values"
        #expect(result.dropped == [AllReduceResult.DroppedPeer(peer: peerID(4), reason: reason)])
        #expect(result.leftOut == [peerID(2), peerID(3), peerID(4)])
    }
}
