import CohortBase
import Testing
@testable import Averaging

/// Several groups of one step averaged in two stages (docs/protocol.md, "Several groups in one
/// step"): each group's butterfly on the grid, then, for every grid part, an ordinary round
/// among that part's owners in all groups, weighted by their groups' samples.
@Suite struct TwoStageAverageTests {
    /// Groups of distinct peers on the grid, with samples within a factor of two of each other
    /// so that no weight is capped and the average over all is the plain weighted mean.
    static func groups(sizes: [Int], elementCount: Int, clientMode: Bool = true, random: inout SeededRandom) -> [(GroupPlan, [[Float]])] {
        var nextID: UInt8 = 1
        return sizes.map { size in
            let members = (0..<size).map { index in
                defer { nextID += 1 }
                return declaration(peerID(nextID), bandwidth: UInt64.random(in: 10_000_000...200_000_000, using: &random),
                                   clientMode: clientMode && index > 0 && Int.random(in: 0..<4, using: &random) == 0,
                                   samples: UInt64.random(in: 100...190, using: &random))
            }
            let vectors = (0..<size).map { _ in (0..<elementCount).map { _ in Float.random(in: -1...1, using: &random) } }
            return (GroupPlan(step: 41, elementCount: elementCount, members: members, onGrid: true)!, vectors)
        }
    }

    static func settings(compression: Compression = .none) -> AllReduceRound.Settings {
        var settings = AllReduceRound.Settings(compression: compression, chunkSize: 64)
        settings.averagesPartAcrossGroups = true
        return settings
    }

    /// The second stage, as the shell runs it: for each grid part, a round among its owners in
    /// every group, over the part's elements, each weighing its group's samples; the average
    /// goes into each owner's vector. Grid parts in `failing` lose a member of their round, and
    /// their owners skip them. Returns, per group, each owner's skipped grid parts.
    static func secondStage(_ groups: inout [SimulatedGroup], failing: Set<Int> = [], seed: UInt64) -> [[Int: UInt64]] {
        var skipped = groups.map { _ in [Int: UInt64]() }
        let elementCount = groups[0].plan.elementCount
        for gridIndex in 0..<LoadBalancing.gridParts {
            let elements = LoadBalancing.gridPart(gridIndex, elementCount: elementCount)
            guard !elements.isEmpty else { continue }
            let owners = groups.map { group in group.plan.parts.firstIndex { $0.contains(elements.lowerBound) }! }
            let members = groups.indices.map { index in
                Declaration(step: 41, peer: groups[index].plan.members[owners[index]].peer, address: "10.0.0.1:7000",
                            bandwidth: groups[index].plan.members[owners[index]].bandwidth, clientMode: false,
                            samples: groups[index].plan.weights.reduce(0, +))
            }
            let plan = GroupPlan(step: 41, elementCount: elements.count, members: members)!
            let vectors = plan.members.map { member in
                let index = members.firstIndex { $0.peer == member.peer }!
                return Array(groups[index].members[owners[index]].vector[elements])
            }
            var faults: [Int: SimulatedGroup.Fault] = [:]
            if failing.contains(gridIndex) { faults[0] = .crash(afterSending: 0) }
            var round = SimulatedGroup(plan: plan, vectors: vectors, settings: AllReduceRound.Settings(compression: .none, chunkSize: 16),
                                       faults: faults, seed: seed &+ UInt64(gridIndex))
            round.run()
            for (stageIndex, member) in plan.members.enumerated() {
                let index = members.firstIndex { $0.peer == member.peer }!
                guard let result = round.members[stageIndex].result, result.isComplete else {
                    skipped[index][owners[index], default: 0] |= 1 << UInt64(gridIndex)
                    continue
                }
                let target = groups[index].members[owners[index]].vector
                for (offset, value) in round.members[stageIndex].vector.enumerated() { target[elements.lowerBound + offset] = value }
            }
        }
        return skipped
    }

    @Test(arguments: [Compression.none, .float16])
    func groupsAveragedInTwoStagesEndWithTheAverageOverAllAndAgreeBitForBit(compression: Compression) {
        var random = SeededRandom(seed: 12)
        let elementCount = 3_000
        let planned = Self.groups(sizes: [3, 5, 2], elementCount: elementCount, random: &random)
        var groups = planned.map { SimulatedGroup(plan: $0.0, vectors: $0.1, settings: Self.settings(compression: compression), seed: random.next()) }
        for index in groups.indices {
            groups[index].run()
            let owners = groups[index].plan.parts.indices.filter { !groups[index].plan.parts[$0].isEmpty }
            #expect(groups[index].awaitingSecondStage == Set(owners))
            #expect(groups[index].members.allSatisfy { $0.result == nil })
        }
        let skipped = Self.secondStage(&groups, seed: 5)
        #expect(skipped.allSatisfy { $0.isEmpty })
        for index in groups.indices {
            for owner in groups[index].awaitingSecondStage { groups[index].resolveSecondStage(of: owner, averaged: true) }
            groups[index].run()
        }
        let everyone = groups.flatMap(\.members)
        let weights = planned.flatMap { $0.0.weights.map { Double($0) } }
        let vectors = planned.flatMap(\.1)
        let tolerance = compression == .none ? 1e-5 : 3 * 0x1p-11
        for element in 0..<elementCount {
            let expected = zip(weights, vectors).reduce(0.0) { $0 + $1.0 * Double($1.1[element]) } / weights.reduce(0, +)
            #expect(abs(Double(everyone[0].vector[element]) - expected) < tolerance, "element \(element)")
        }
        for member in everyone {
            #expect(member.result?.isComplete == true)
            #expect(Array(member.vector) == Array(everyone[0].vector))
        }
    }

    @Test func aGridPartWhoseSecondStageFailsIsLeftOutByEveryMemberOfEveryGroup() {
        var random = SeededRandom(seed: 3)
        let elementCount = 6_400
        let planned = Self.groups(sizes: [4, 3], elementCount: elementCount, random: &random)
        var groups = planned.map { SimulatedGroup(plan: $0.0, vectors: $0.1, settings: Self.settings(), seed: random.next()) }
        for index in groups.indices { groups[index].run() }
        let failing: Set<Int> = [0, 17, 40]
        let skipped = Self.secondStage(&groups, failing: failing, seed: 9)
        for index in groups.indices {
            for owner in groups[index].awaitingSecondStage {
                let ownerSkips = skipped[index][owner] ?? 0
                groups[index].resolveSecondStage(of: owner, averaged: true, skipping: ownerSkips)
            }
            groups[index].run()
        }
        let expectedFailed = failing.sorted().map { LoadBalancing.gridPart($0, elementCount: elementCount) }
        let everyone = groups.flatMap(\.members)
        for member in everyone {
            #expect(member.result?.failedParts == expectedFailed)
        }
        let averaged = (0..<elementCount).filter { element in !expectedFailed.contains { $0.contains(element) } }
        #expect(everyone.allSatisfy { member in averaged.allSatisfy { member.vector[$0] == everyone[0].vector[$0] } })
    }

    @Test func anOwnerWhoseWholePartFailsTheSecondStageHasItsGroupLeaveThePartOutAtOnce() {
        var random = SeededRandom(seed: 8)
        let planned = Self.groups(sizes: [3, 3], elementCount: 1_000, random: &random)
        var group = SimulatedGroup(plan: planned[0].0, vectors: planned[0].1, settings: Self.settings(), seed: 1)
        group.run()
        let owner = group.awaitingSecondStage.min()!
        for other in group.awaitingSecondStage where other != owner { group.resolveSecondStage(of: other, averaged: true) }
        group.resolveSecondStage(of: owner, averaged: false)
        group.run()
        // Before the round deadline: the skip, not the timeout, ended the wait.
        #expect(group.now < MonotonicInstant.zero + group.members[0].round.settings.roundTimeout)
        for member in group.members {
            #expect(member.result?.failedParts == [planned[0].0.parts[owner]])
        }
    }

    @Test func anOwnerThatNeverHearsFromItsSecondStageGivesThePartUpAtTheRoundDeadline() {
        var random = SeededRandom(seed: 4)
        let planned = Self.groups(sizes: [3], elementCount: 1_000, random: &random)
        var group = SimulatedGroup(plan: planned[0].0, vectors: planned[0].1, settings: Self.settings(), seed: 2)
        group.run()
        let waiting = group.awaitingSecondStage
        group.forgetSecondStage()
        group.run()
        let failed = waiting.sorted().map { planned[0].0.parts[$0] }
        for member in group.members {
            #expect(member.result?.failedParts == failed)
        }
    }

    @Test func skipsFromAMemberThatDoesNotOwnThosePartsOrAfterItsAveragesDropIt() {
        var random = SeededRandom(seed: 6)
        let planned = Self.groups(sizes: [4], elementCount: 6_400, clientMode: false, random: &random)
        let plan = planned[0].0
        var round = AllReduceRound(plan: plan, peer: plan.members[0].peer, vector: .allocate(capacity: 6_400), settings: Self.settings(),
                                   now: .zero)
        defer { round.vector.deallocate() }
        round.vector.initialize(repeating: 0)
        _ = round.start()
        let owners = plan.parts.indices.filter { $0 != 0 && !plan.parts[$0].isEmpty }
        let (first, second) = (owners[0], owners[1])
        // Grid parts of another member's part.
        let notItsOwn = PartSkipped(roundID: plan.id, part: first, gridParts: round.gridParts(ofPart: second))
        #expect(round.onPartSkipped(notItsOwn, from: plan.members[first].peer, now: .zero).contains {
            if case .dropPeer(let peer, _) = $0 { return peer == plan.members[first].peer } else { return false }
        })
        // After one of its averages came.
        let chunk = AveragedChunk(roundID: plan.id, part: second, chunk: 0, compression: .none,
                                  bytes: [UInt8](repeating: 0, count: 4 * 64)[...])
        _ = round.onAveragedChunk(chunk, from: plan.members[second].peer, now: .zero)
        let late = PartSkipped(roundID: plan.id, part: second, gridParts: round.gridParts(ofPart: second))
        #expect(round.onPartSkipped(late, from: plan.members[second].peer, now: .zero).contains {
            if case .dropPeer(let peer, _) = $0 { return peer == plan.members[second].peer } else { return false }
        })
    }

    @Test func aRoundWithoutASecondStageRefusesSkips() {
        var random = SeededRandom(seed: 7)
        let planned = Self.groups(sizes: [3], elementCount: 6_400, clientMode: false, random: &random)
        let plan = planned[0].0
        var round = AllReduceRound(plan: plan, peer: plan.members[0].peer, vector: .allocate(capacity: 6_400),
                                   settings: AllReduceRound.Settings(compression: .none, chunkSize: 64), now: .zero)
        defer { round.vector.deallocate() }
        round.vector.initialize(repeating: 0)
        _ = round.start()
        let owner = plan.parts.indices.first { $0 != 0 && !plan.parts[$0].isEmpty }!
        let skip = PartSkipped(roundID: plan.id, part: owner, gridParts: round.gridParts(ofPart: owner))
        #expect(round.onPartSkipped(skip, from: plan.members[owner].peer, now: .zero).contains {
            if case .dropPeer = $0 { return true } else { return false }
        })
    }

    @Test func aSkippedPartRoundTrips() throws {
        let skip = PartSkipped(roundID: 0xFEED, part: 7, gridParts: 1 << 63 | 5)
        #expect(try PartSkipped(decoding: skip.encoded()[...]) == skip)
        #expect(throws: PayloadDecodingError.self) { try PartSkipped(decoding: skip.encoded().dropLast()[...]) }
    }
}
