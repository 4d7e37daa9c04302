import Testing
@testable import Averaging

@Suite struct LoadBalancingTests {
    @Test func partsFollowBandwidthAndTileTheVector() {
        let parts = LoadBalancing.partition(elementCount: 1000, bandwidths: [200, 300, 500], clientMode: [false, false, false])
        #expect(parts == [0..<200, 200..<500, 500..<1000])
    }

    @Test func aHugeDeclaredBandwidthOwnsAtMostHalfOfAThreeOwnerVector() {
        // Tried on a real run: a peer started with --bandwidth-mbit 1000000000 owned the whole
        // vector of every round, and with it every average.
        let parts = LoadBalancing.partition(elementCount: 66_624, bandwidths: [Declaration.maxBandwidth, 100_000_000, 100_000_000],
                                            clientMode: [false, false, false])
        #expect(parts?.map(\.count) == [33_312, 16_656, 16_656])
    }

    @Test func aSlowLinkAmongFastOnesOwnsNothing() {
        // 100/50/50/20 Mbit/s: owning any part, the 20 Mbit/s member moves more than its own
        // vector, which alone takes it longer than the others' whole round.
        let parts = LoadBalancing.partition(elementCount: 1000, bandwidths: [100_000_000, 50_000_000, 50_000_000, 20_000_000],
                                            clientMode: [false, false, false, false])
        #expect(parts?.map(\.count) == [500, 250, 250, 0])
    }

    @Test func uniformLinksAndTwoMemberGroupsKeepEveryOwner() {
        let uniform = LoadBalancing.partition(elementCount: 1000, bandwidths: [50, 50, 50, 50], clientMode: [false, false, false, false])
        #expect(uniform?.map(\.count) == [250, 250, 250, 250])
        // With two members, each moves its whole vector whatever it owns.
        let pair = LoadBalancing.partition(elementCount: 1000, bandwidths: [100, 60], clientMode: [false, false])
        #expect(pair?.map(\.count) == [625, 375])
        #expect(LoadBalancing.standingAside(weights: [100, 1], memberCount: 2).isEmpty)
    }

    @Test func aLiarCannotPushHonestOwnersAside() {
        // The liar counts for twice the median; the honest owners are the median.
        let parts = LoadBalancing.partition(elementCount: 1000, bandwidths: [Declaration.maxBandwidth, 50, 50],
                                            clientMode: [false, false, false])
        #expect(parts?.map(\.count) == [500, 250, 250])
    }

    @Test func aSlowOwnerKeepsItsPartWhereManyClientsMakeOwningWorthIt() {
        // Seven client-mode members send every owner their chunks: (10 − 2 + 3) × 40 > 240, so
        // the 40 owns its share although it is below half the median.
        let bandwidths: [UInt64] = [100, 100, 40] + Array(repeating: 100, count: 7)
        let clientMode = [false, false, false] + Array(repeating: true, count: 7)
        let parts = LoadBalancing.partition(elementCount: 240, bandwidths: bandwidths, clientMode: clientMode)
        #expect(parts?.prefix(3).map(\.count) == [100, 100, 40])
        // Without them, it stands aside.
        #expect(LoadBalancing.standingAside(weights: [100, 100, 40], memberCount: 3) == [2])
    }

    @Test func declaredValuesCountForAtMostTwiceTheLowerMedian() {
        #expect(ShareCap.capped([10, 1_000, 20, 0]) == [10, 40, 20, 0])
        #expect(ShareCap.capped([5, 5]) == [5, 5])
        #expect(ShareCap.capped([0, 0]) == [0, 0])
        #expect(ShareCap.capped([UInt64.max, UInt64.max, 1]) == [UInt64.max, UInt64.max, 1])
    }

    @Test func clientModeMembersOwnNothing() {
        let parts = LoadBalancing.partition(elementCount: 10, bandwidths: [5, 1_000, 5], clientMode: [false, true, false])
        #expect(parts == [0..<5, 5..<5, 5..<10])
    }

    @Test func allClientModeHasNoPlan() {
        #expect(LoadBalancing.partition(elementCount: 10, bandwidths: [1, 2], clientMode: [true, true]) == nil)
    }

    @Test func zeroBandwidthEverywhereSharesEqually() {
        let parts = LoadBalancing.partition(elementCount: 10, bandwidths: [0, 0, 0], clientMode: [false, false, false])
        #expect(parts == [0..<4, 4..<7, 7..<10])
    }

    @Test func leftoverElementsGoToLargestRemaindersThenEarlierMembers() {
        // 7 × (1, 1, 1) / 3: quotients 2, 2, 2 and equal remainders, so the first member gets one more.
        #expect(LoadBalancing.shares(of: 7, weights: [1, 1, 1]) == [3, 2, 2])
        // 10 × (1, 2) / 3 = 3.33, 6.67: the second member has the larger remainder.
        #expect(LoadBalancing.shares(of: 10, weights: [1, 2]) == [3, 7])
    }

    @Test func hugeBandwidthsAndVectorsDoNotOverflow() {
        let shares = LoadBalancing.shares(of: 1 << 40, weights: [UInt64.max / 4, UInt64.max / 4, 3])
        #expect(shares.reduce(0, +) == 1 << 40)
        #expect(shares[2] == 0)
    }

    @Test(arguments: 0..<40) func randomGroupsTileExactlyAndStayWithinOneElementOfTheirShare(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let memberCount = Int.random(in: 1...12, using: &random)
        let elementCount = Int.random(in: 0...100_000, using: &random)
        let bandwidths = (0..<memberCount).map { _ in UInt64.random(in: 0...2_000_000_000, using: &random) }
        var clientMode = (0..<memberCount).map { _ in Bool.random(using: &random) }
        clientMode[Int.random(in: 0..<memberCount, using: &random)] = false
        guard let parts = LoadBalancing.partition(elementCount: elementCount, bandwidths: bandwidths, clientMode: clientMode) else {
            Issue.record("no plan although a member accepts connections")
            return
        }
        #expect(parts.first?.lowerBound == 0)
        #expect(parts.last?.upperBound == elementCount)
        #expect(zip(parts, parts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        var counted = ShareCap.capped(bandwidths.indices.map { clientMode[$0] ? 0 : bandwidths[$0] })
        for owner in LoadBalancing.standingAside(weights: counted, memberCount: memberCount) { counted[owner] = 0 }
        let total = counted.reduce(0.0) { $0 + Double($1) }
        for index in parts.indices {
            if clientMode[index] {
                #expect(parts[index].isEmpty)
            } else if total > 0 {
                let share = Double(elementCount) * Double(counted[index]) / total
                #expect(abs(Double(parts[index].count) - share) < 1.0001)
            }
        }
        #expect(LoadBalancing.partition(elementCount: elementCount, bandwidths: bandwidths, clientMode: clientMode) == parts)
    }

    @Test(arguments: 0..<40) func onTheGridEveryPartIsARunOfWholeGridPartsWithinOneGridPartOfItsShare(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let memberCount = Int.random(in: 2...64, using: &random)
        let elementCount = Int.random(in: 0...100_000, using: &random)
        let bandwidths = (0..<memberCount).map { _ in UInt64.random(in: 1...2_000_000_000, using: &random) }
        var clientMode = (0..<memberCount).map { _ in Int.random(in: 0..<4, using: &random) == 0 }
        clientMode[0] = false
        guard let parts = LoadBalancing.partition(elementCount: elementCount, bandwidths: bandwidths, clientMode: clientMode, onGrid: true)
        else {
            Issue.record("no plan although a member accepts connections")
            return
        }
        let boundaries = Set((0...LoadBalancing.gridParts).map { LoadBalancing.gridBoundary($0, elementCount: elementCount) })
        #expect(parts.first?.lowerBound == 0)
        #expect(parts.last?.upperBound == elementCount)
        #expect(zip(parts, parts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(parts.allSatisfy { boundaries.contains($0.lowerBound) && boundaries.contains($0.upperBound) })
        var counted = ShareCap.capped(bandwidths.indices.map { clientMode[$0] ? 0 : bandwidths[$0] })
        for owner in LoadBalancing.standingAside(weights: counted, memberCount: memberCount) { counted[owner] = 0 }
        let total = counted.reduce(0.0) { $0 + Double($1) }
        let gridPartsOwned = LoadBalancing.shares(of: UInt64(LoadBalancing.gridParts), weights: counted)
        for index in parts.indices {
            let share = Double(LoadBalancing.gridParts) * Double(counted[index]) / total
            #expect(abs(Double(gridPartsOwned[index]) - share) < 1.0001)
            if clientMode[index] { #expect(parts[index].isEmpty) }
        }
    }

    @Test func groupsOfOneStepOnTheGridCutTheVectorAtTheSameBoundaries() {
        // Whatever two groups' links, each grid part lies whole within one owner's part in each.
        let elementCount = 1_000_003
        let first = LoadBalancing.partition(elementCount: elementCount, bandwidths: [100, 50, 50, 20, 7, 300],
                                            clientMode: [false, false, true, false, false, false], onGrid: true)!
        let second = LoadBalancing.partition(elementCount: elementCount, bandwidths: [3, 9],
                                             clientMode: [false, false], onGrid: true)!
        for index in 0..<LoadBalancing.gridParts {
            let gridPart = LoadBalancing.gridPart(index, elementCount: elementCount)
            #expect(first.filter { $0.contains(gridPart.lowerBound) && $0.upperBound >= gridPart.upperBound }.count == 1)
            #expect(second.filter { $0.contains(gridPart.lowerBound) && $0.upperBound >= gridPart.upperBound }.count == 1)
        }
        #expect(LoadBalancing.gridPart(0, elementCount: elementCount) == 0..<15_625)
        #expect(LoadBalancing.gridPart(63, elementCount: elementCount).upperBound == elementCount)
    }

    @Test func aVectorShorterThanTheGridStillTiles() {
        let parts = LoadBalancing.partition(elementCount: 10, bandwidths: [1, 1, 1], clientMode: [false, false, false], onGrid: true)
        // 22, 21 and 21 grid parts of a 10-element vector.
        #expect(parts == [0..<3, 3..<6, 6..<10])
        #expect((0..<LoadBalancing.gridParts).map { LoadBalancing.gridPart($0, elementCount: 10).count }.reduce(0, +) == 10)
    }

    @Test func withMoreOwnersThanGridPartsTheSlowestOwnNothing() {
        let bandwidths = (0..<80).map { UInt64(1_000 + $0) }
        let parts = LoadBalancing.partition(elementCount: 64_000, bandwidths: bandwidths, clientMode: Array(repeating: false, count: 80),
                                            onGrid: true)!
        #expect(parts.filter { !$0.isEmpty }.count == LoadBalancing.gridParts)
        #expect(parts.allSatisfy { $0.count == 0 || $0.count == 1_000 })
    }
}
