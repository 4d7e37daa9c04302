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

    /// The second stage, as the shell runs it: the step's list composed by the lowest leader
    /// from the groups' listings, and from it every round, each among the owners of a run of
    /// grid parts in every group, over those elements; each round's average goes into its
    /// owners' vectors. Rounds over grid parts in `failing` lose a member, and their owners
    /// skip all of that round's grid parts. Returns, per group, each owner's skipped grid parts.
    static func secondStage(_ groups: inout [SimulatedGroup], failing: Set<Int> = [], seed: UInt64) -> [[Int: UInt64]] {
        var skipped = groups.map { _ in [Int: UInt64]() }
        let listings = groups.map { (leader: $0.plan.leader, listing: GroupListing(plan: $0.plan)!) }
        let lowest = listings.map(\.leader).min()!
        guard let list = StepGroupList.compose(by: lowest, step: 41, listings: listings),
              case .rounds(let rounds) = list.secondStage(elementCount: groups[0].plan.elementCount,
                                                          listings: Dictionary(uniqueKeysWithValues: listings.map { ($0.leader, $0.listing) }))
        else {
            Issue.record("no second stage for \(groups.count) groups")
            return skipped
        }
        #expect(list.entries.count == groups.count)
        var owners: [PeerID: (group: Int, member: Int)] = [:]
        for (group, simulated) in groups.enumerated() {
            for (member, declaration) in simulated.plan.members.enumerated() { owners[declaration.peer] = (group, member) }
        }
        for (number, round) in rounds.enumerated() {
            let vectors = round.plan.members.map { member in
                let (group, index) = owners[member.peer]!
                return Array(groups[group].members[index].vector[round.elements])
            }
            var faults: [Int: SimulatedGroup.Fault] = [:]
            if !failing.isDisjoint(with: (0..<LoadBalancing.gridParts).filter { round.gridParts & (1 << UInt64($0)) != 0 }) {
                faults[0] = .crash(afterSending: 0)
            }
            var simulated = SimulatedGroup(plan: round.plan, vectors: vectors, settings: AllReduceRound.Settings(compression: .none, chunkSize: 16),
                                           faults: faults, seed: seed &+ UInt64(number))
            simulated.run()
            for (stageIndex, member) in round.plan.members.enumerated() {
                let (group, index) = owners[member.peer]!
                guard let result = simulated.members[stageIndex].result, result.isComplete else {
                    skipped[group][index, default: 0] |= round.gridParts
                    continue
                }
                let target = groups[group].members[index].vector
                for (offset, value) in simulated.members[stageIndex].vector.enumerated() { target[round.elements.lowerBound + offset] = value }
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
        // A round that fails skips all of its grid parts, in every group.
        let skippedGridParts = skipped.flatMap(\.values).reduce(0, |)
        #expect(failing.allSatisfy { skippedGridParts & (1 << UInt64($0)) != 0 })
        #expect(skippedGridParts.nonzeroBitCount < LoadBalancing.gridParts)
        let expectedFailed = Set((0..<LoadBalancing.gridParts).filter { skippedGridParts & (1 << UInt64($0)) != 0 }
            .flatMap { LoadBalancing.gridPart($0, elementCount: elementCount) })
        let everyone = groups.flatMap(\.members)
        for member in everyone {
            #expect(Set(member.result?.failedParts.flatMap { $0 } ?? []) == expectedFailed)
        }
        let averaged = (0..<elementCount).filter { !expectedFailed.contains($0) }
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
