import CohortBase
import Testing
@testable import Averaging

@Suite struct AllReduceTests {
    /// A random group: uneven bandwidths (some zero), uneven sample counts, mixed client mode.
    static func randomGroup(memberCount: Int, elementCount: Int, random: inout SeededRandom) -> (GroupPlan, [[Float]]) {
        let ownerIndex = Int.random(in: 0..<memberCount, using: &random)
        let members = (0..<memberCount).map { index in
            declaration(peerID(UInt8(index + 1)),
                        bandwidth: Bool.random(using: &random) ? 0 : UInt64.random(in: 1...1_000_000_000, using: &random),
                        clientMode: index != ownerIndex && Int.random(in: 0..<3, using: &random) == 0,
                        samples: UInt64.random(in: 1...1_000, using: &random))
        }
        let vectors = (0..<memberCount).map { _ in
            (0..<elementCount).map { _ in Float.random(in: -1...1, using: &random) }
        }
        return (GroupPlan(step: 41, elementCount: elementCount, members: members)!, vectors)
    }

    /// Largest |error| allowed against the float64 weighted mean, for values in [-1, 1]: the
    /// owner decodes every sender's chunk and the members decode its average, so two codec errors.
    static func tolerance(_ compression: Compression) -> Double {
        switch compression {
        case .none: 1e-5
        case .float16: 2 * 0x1p-11 * 1.01
        case .blockwiseInt8: 2 * (1.0 / 254) * 1.01
        }
    }

    /// Every survivor's averaged elements match the expected mean and are bit-identical across
    /// survivors (or `members`); elements of failed parts keep each survivor's local values.
    /// `valueScale` widens the tolerance for values in [-valueScale, valueScale].
    static func checkAverages(_ group: SimulatedGroup, compression: Compression, failedPartsKeepLocalValues: Bool = true,
                              members: [Int]? = nil, valueScale: Double = 1) {
        let expected = group.expectedAverage()
        let survivors = members ?? group.live
        let reference = survivors[0]
        for index in survivors {
            guard let result = group.members[index].result else {
                Issue.record("member \(index) did not finish")
                continue
            }
            let failed = result.failedParts
            #expect(failed == group.members[reference].result?.failedParts)
            for element in 0..<group.plan.elementCount {
                let value = group.members[index].vector[element]
                if failed.contains(where: { $0.contains(element) }) {
                    if failedPartsKeepLocalValues {
                        #expect(value == group.members[index].original[element])
                    }
                    continue
                }
                #expect(abs(Double(value) - expected[element]) <= valueScale * tolerance(compression), "member \(index) element \(element)")
                #expect(value.bitPattern == group.members[reference].vector[element].bitPattern)
            }
        }
    }

    @Test(arguments: 2...8, [Compression.none, .float16, .blockwiseInt8(blockSize: 64)])
    func everyMemberEndsWithTheSameWeightedMean(memberCount: Int, compression: Compression) {
        var random = SeededRandom(seed: UInt64(memberCount * 31 + compression.encodedByteCount(elementCount: 1)))
        let (plan, vectors) = Self.randomGroup(memberCount: memberCount, elementCount: Int.random(in: 1...3_000, using: &random),
                                               random: &random)
        let settings = AllReduceRound.Settings(compression: compression, chunkSize: Int.random(in: 16...300, using: &random))
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, seed: random.next())
        group.run()
        Self.checkAverages(group, compression: compression)
        let results = group.members.compactMap(\.result)
        #expect(results.count == memberCount)
        for result in results {
            #expect(result.isComplete && result.leftOut.isEmpty)
            #expect(result.participants == plan.members.map(\.peer))
            #expect(result.totalSamples == plan.weights.reduce(0, +))
            #expect(result.duration == .zero)
        }
        #expect(results.reduce(0) { $0 + $1.bytesSent } == results.reduce(0) { $0 + $1.bytesReceived })
        #expect(group.members.allSatisfy { $0.dropped.isEmpty })
    }

    /// Same-host copies write uncompressed averages straight into the members' vectors: the
    /// result is the same weighted mean, bit-identical everywhere, with and without faults.
    @Test(arguments: 2...8)
    func averagesWrittenInPlaceEndWithTheSameWeightedMean(memberCount: Int) {
        var random = SeededRandom(seed: UInt64(memberCount * 97))
        let (plan, vectors) = Self.randomGroup(memberCount: memberCount, elementCount: Int.random(in: 1...3_000, using: &random),
                                               random: &random)
        let settings = AllReduceRound.Settings(compression: .none, chunkSize: Int.random(in: 16...300, using: &random))
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, seed: random.next(), averagesInPlace: true)
        group.run()
        Self.checkAverages(group, compression: .none)
        #expect(group.averagesWrittenInPlace > 0, "no average went through averagedChunkDestination")
        #expect(group.members.allSatisfy { $0.result?.isComplete == true && $0.dropped.isEmpty })
        #expect(group.members.compactMap(\.result).reduce(0) { $0 + $1.bytesSent }
                    == group.members.compactMap(\.result).reduce(0) { $0 + $1.bytesReceived })

        let (faultyPlan, faultyVectors) = Self.fourMembers()
        var faulty = SimulatedGroup(plan: faultyPlan, vectors: faultyVectors, settings: AllReduceRound.Settings(compression: .none, chunkSize: 64),
                                    faults: [2: .crashBeforeFirstAverage], seed: 6, averagesInPlace: true)
        faulty.run()
        Self.checkAverages(faulty, compression: .none)
        #expect(faulty.averagesWrittenInPlace > 0)
    }

    /// The round lends its vector only for an uncompressed average it would take.
    @Test func averageDestinationsAreLentOnlyForExpectedUncompressedChunks() {
        let plan = GroupPlan(step: 41, elementCount: 100, members: [declaration(peerID(1)), declaration(peerID(2))])!
        let vector = UnsafeMutableBufferPointer<Float>.allocate(capacity: 100)
        defer { vector.deallocate() }
        vector.initialize(repeating: 1)
        let settings = AllReduceRound.Settings(compression: .none, chunkSize: 10)
        var round = AllReduceRound(plan: plan, peer: peerID(1), vector: vector, settings: settings, now: .zero)
        _ = round.start()
        let owner = peerID(2), ownerPart = plan.index(of: owner)!
        func destination(round roundID: UInt64 = plan.id, part: Int? = nil, chunk: Int = 0, compression: Compression = .none,
                         byteCount: Int = 40, from peer: PeerID? = nil) -> UnsafeMutableRawBufferPointer? {
            round.averagedChunkDestination(roundID: roundID, part: part ?? ownerPart, chunk: chunk, compression: compression,
                                           byteCount: byteCount, from: peer ?? owner)
        }
        let lent = destination()
        #expect(lent?.count == 40)
        #expect(lent?.baseAddress == UnsafeMutableRawPointer(vector.baseAddress! + plan.parts[ownerPart].lowerBound))
        #expect(destination(round: plan.id + 1) == nil)
        #expect(destination(part: 1 - ownerPart) == nil)
        #expect(destination(chunk: 5) == nil)
        #expect(destination(byteCount: 36) == nil)
        #expect(destination(compression: .float16) == nil)
        #expect(destination(from: peerID(1)) == nil)
        _ = round.onAveragedChunkWritten(part: ownerPart, chunk: 0, byteCount: 40, from: owner, now: .zero)
        #expect(destination() == nil, "chunk 0 was written already")

        var compressed = AllReduceRound(plan: plan, peer: peerID(1), vector: vector,
                                        settings: AllReduceRound.Settings(compression: .float16, chunkSize: 10), now: .zero)
        _ = compressed.start()
        #expect(compressed.averagedChunkDestination(roundID: plan.id, part: ownerPart, chunk: 0, compression: .float16,
                                                    byteCount: 20, from: owner) == nil)
    }

    /// Member 0 accepts connections (bandwidth 1 MB/s); member 1 is in client mode; members 2, 3 own larger parts.
    static func fourMembers(clientModeSender: Bool = true) -> (GroupPlan, [[Float]]) {
        var random = SeededRandom(seed: 77)
        let members = [
            declaration(peerID(1), bandwidth: 1_000_000, samples: 10),
            declaration(peerID(2), bandwidth: 5_000_000, clientMode: clientModeSender, samples: 300),
            declaration(peerID(3), bandwidth: 2_000_000, samples: 40),
            declaration(peerID(4), bandwidth: 3_000_000, samples: 7),
        ]
        let vectors = (0..<4).map { _ in (0..<1_200).map { _ in Float.random(in: -1...1, using: &random) } }
        return (GroupPlan(step: 41, elementCount: 1_200, members: members)!, vectors)
    }

    @Test func aSenderThatFailsMidRoundIsLeftOutAndTheWeightsRenormalise() {
        let (plan, vectors) = Self.fourMembers()
        let settings = AllReduceRound.Settings(compression: .none, chunkSize: 50)
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, faults: [1: .crash(afterSending: 11)], seed: 5)
        group.run()
        let fromFailed = group.contributions.filter { $0[0] == 1 }.count
        #expect(fromFailed == 11, "the failed member's chunks sent before it died still count")
        Self.checkAverages(group, compression: .none)
        for index in group.live {
            let result = group.members[index].result!
            #expect(result.isComplete)
            #expect(result.leftOut == [peerID(2)])
            #expect(result.totalSamples == plan.weights.reduce(0, +) - plan.weights[1])
            #expect(result.plannedSamples == plan.weights.reduce(0, +), "the plan's samples, whoever took part")
        }
    }

    @Test func aPartWhoseOwnerFailsKeepsLocalValuesAndIsReported() {
        let (plan, vectors) = Self.fourMembers()
        let settings = AllReduceRound.Settings(compression: .float16, chunkSize: 64)
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, faults: [2: .crashBeforeFirstAverage], seed: 6)
        group.run()
        #expect(group.down == [2])
        Self.checkAverages(group, compression: .float16)
        for index in group.live {
            let result = group.members[index].result!
            #expect(result.failedParts == [plan.parts[2]])
            #expect(result.leftOut == [peerID(3)])
            #expect(result.duration == .zero, "a closed connection needs no timeout")
        }
    }

    @Test func aStalledSenderIsLeftOutAtTheSenderDeadlineAndItsPartAtTheRoundDeadline() {
        let (plan, vectors) = Self.fourMembers(clientModeSender: false)
        let settings = AllReduceRound.Settings(compression: .blockwiseInt8, chunkSize: 40)
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, faults: [3: .stall(afterSending: 9)], seed: 7)
        group.run()
        Self.checkAverages(group, compression: .blockwiseInt8)
        for index in group.live {
            let result = group.members[index].result!
            #expect(result.failedParts == [plan.parts[3]])
            #expect(result.leftOut == [peerID(4)])
            #expect(result.duration == settings.roundTimeout)
        }
        #expect(group.now == MonotonicInstant.zero + settings.roundTimeout)
    }

    @Test(arguments: [true, false])
    func aSenderThatVanishesIsLeftOutAtTheFirstSilenceCheck(checking: Bool) {
        let (plan, vectors) = Self.fourMembers()
        var settings = AllReduceRound.Settings(compression: .none, chunkSize: 50)
        if !checking { settings.silenceCheckInterval = nil }
        // The client-mode member owns no part, so no connection to it fails when it dies.
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, faults: [1: .vanish(afterSending: 7)], seed: 8)
        group.run()
        Self.checkAverages(group, compression: .none)
        #expect(group.contributions.filter { $0[0] == 1 }.count == 7, "its chunks sent before it died still count")
        for index in group.live {
            let result = group.members[index].result!
            #expect(result.isComplete)
            #expect(result.leftOut == [peerID(2)])
            #expect(result.duration == (checking ? settings.silenceCheckInterval! : settings.senderTimeout))
        }
        #expect(Set(group.checksAlive.map { $0[1] }) == (checking ? [1] : []))
    }

    @Test func aClientModeSenderThatSentNothingIsNotCheckedButLeftOutAtTheSenderDeadline() {
        let (plan, vectors) = Self.fourMembers()
        let settings = AllReduceRound.Settings(compression: .none, chunkSize: 50)
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, faults: [1: .vanish(afterSending: 0)], seed: 9)
        group.run()
        Self.checkAverages(group, compression: .none)
        #expect(group.checksAlive.isEmpty, "a client-mode member may still be dialling and has no address to check")
        for index in group.live {
            #expect(group.members[index].result!.leftOut == [peerID(2)])
            #expect(group.members[index].result!.duration == settings.senderTimeout)
        }
    }

    @Test func ownersCheckOnlySendersSilentForTheWholeInterval() {
        let plan = GroupPlan(step: 41, elementCount: 40, members: [declaration(peerID(1)), declaration(peerID(2)), declaration(peerID(3))])!
        let settings = AllReduceRound.Settings(compression: .none, chunkSize: 4)
        let interval = settings.silenceCheckInterval!
        let owner = SimulatedMember(plan: plan, index: 0, values: [Float](repeating: 1, count: 40), settings: settings)
        let sender = SimulatedMember(plan: plan, index: 1, values: [Float](repeating: 2, count: 40), settings: settings)
        #expect(owner.round.start().contains(.wake(at: .zero + interval)))
        let firstChunk = sender.round.start().compactMap { action -> AllReduceRound.ChunkReference? in
            guard case .sendPartChunk(let reference, to: peerID(1)) = action else { return nil }
            return reference
        }.first!
        _ = owner.round.onPartChunk(sender.round.partChunk(for: firstChunk), now: .zero + .milliseconds(1500))
        #expect(owner.round.onDeadline(now: .zero + interval) == [.checkAlive(peerID(3)), .wake(at: .zero + interval * 2)])
        #expect(owner.round.onDeadline(now: .zero + interval * 2) == [.checkAlive(peerID(2)), .checkAlive(peerID(3)),
                                                                     .wake(at: .zero + interval * 3)])
        // The last check wakes nobody: the next would come at the sender deadline.
        #expect(owner.round.onDeadline(now: .zero + (settings.senderTimeout - interval)) == [.checkAlive(peerID(2)),
                                                                                         .checkAlive(peerID(3))])
    }

    @Test func aMemberSendingGarbageIsDroppedAndTheRoundStillEnds() {
        let plan = GroupPlan(step: 41, elementCount: 8, members: [declaration(peerID(1)), declaration(peerID(2))])!
        let member = SimulatedMember(plan: plan, index: 0, values: [Float](repeating: 1, count: 8),
                                     settings: AllReduceRound.Settings(chunkSize: 4))
        _ = member.round.start()
        let garbage = PartChunk(roundID: plan.id, step: plan.step, part: 0, chunk: 0, sender: peerID(2), compression: .none, bytes: [1, 2, 3][...])
        let actions = member.round.onPartChunk(garbage, now: seconds(1))
        #expect(actions.first == .dropPeer(peerID(2), reason: "sent 3 bytes for chunk 0 of part 0, which encodes to 16"))
        guard case .finished(let result) = actions.last else {
            Issue.record("the round did not finish: \(actions)")
            return
        }
        #expect(result.leftOut == [peerID(2)])
        #expect(result.failedParts == [plan.parts[1]])
        #expect(Array(member.vector) == [Float](repeating: 1, count: 8))
        #expect(member.round.onPeerFailed(peerID(2), now: seconds(2)).isEmpty)
    }

    @Test func chunksOfAnotherRoundAreIgnored() {
        let plan = GroupPlan(step: 41, elementCount: 8, members: [declaration(peerID(1)), declaration(peerID(2))])!
        let member = SimulatedMember(plan: plan, index: 0, values: [Float](repeating: 1, count: 8),
                                     settings: AllReduceRound.Settings(chunkSize: 4))
        _ = member.round.start()
        let stray = PartChunk(roundID: plan.id &+ 1, step: 0, part: 0, chunk: 0, sender: peerID(2), compression: .none,
                              bytes: [UInt8](repeating: 0, count: 16)[...])
        #expect(member.round.onPartChunk(stray, now: seconds(1)).isEmpty)
    }
}

@Suite struct ChunkSizeTests {
    @Test func largeVectorsUseTheDefaultAndSmallOnesStillSpanEightChunksPerPart() {
        typealias Settings = AllReduceRound.Settings
        #expect(Settings.chunkSize(forElementCount: 16_777_216, memberCount: 4) == Settings.defaultChunkSize)
        #expect(Settings.chunkSize(forElementCount: 856_320, memberCount: 4) == 26_760)
        #expect(856_320 / 4 / Settings.chunkSize(forElementCount: 856_320, memberCount: 4) >= 8)
        #expect(Settings.chunkSize(forElementCount: 1_000, memberCount: 3) == Settings.minimumChunkSize)
    }
}
