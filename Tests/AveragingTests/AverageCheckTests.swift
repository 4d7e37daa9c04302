import Testing
@testable import Averaging

/// A member's checks on the averages owners send back (`AllReduceRound.rejectBadAverages`).
@Suite struct AverageCheckTests {
    static func group(members count: Int, forging forger: Int, seed: UInt64, forge: @escaping ([Float]) -> [Float]) -> SimulatedGroup {
        var random = SeededRandom(seed: seed)
        let members = (0..<count).map { declaration(peerID(UInt8($0 + 1))) }
        let plan = GroupPlan(step: 41, elementCount: 800, members: members)!
        let vectors = (0..<count).map { _ in (0..<800).map { _ in Float.random(in: -1...1, using: &random) } }
        return SimulatedGroup(plan: plan, vectors: vectors, settings: AllReduceRound.Settings(chunkSize: 50),
                              faults: [forger: .forgeAverages(forge)], seed: random.next())
    }

    /// `blamedFor`: the text of the reason the forger is dropped for, with proof enough to ban
    /// it at once; nil when nobody is blamed.
    static func expectPartSkipped(_ group: SimulatedGroup, forger: Int, blamedFor text: String?) {
        for index in group.members.indices where index != forger {
            let result = group.members[index].result
            #expect(result?.failedParts == [group.plan.parts[forger]], "member \(index)")
            if let text {
                #expect(result?.dropped.map(\.peer) == [group.plan.members[forger].peer])
                #expect(result?.dropped.allSatisfy { $0.reason.contains(text) } == true, "\(result?.dropped ?? [])")
                #expect(group.members[index].dropped == [group.plan.members[forger].peer])
                #expect(group.members[index].banned == [group.plan.members[forger].peer])
            } else {
                #expect(result?.dropped == [], "a norm out of bound blames nobody: \(result?.dropped ?? [])")
                #expect(group.members[index].dropped == [])
                #expect(group.members[index].banned == [])
            }
        }
    }

    @Test func anOwnerReturningScaledAveragesHasItsPartSkippedWithoutBlame() {
        var group = Self.group(members: 4, forging: 1, seed: 21) { $0.map { $0 * 1_000 } }
        group.run()
        Self.expectPartSkipped(group, forger: 1, blamedFor: nil)
        for index in group.members.indices where index != 1 {
            #expect(group.members[index].result?.outOfBoundAverages == [group.plan.members[1].peer],
                    "the owner is listed for the caller to count")
        }
    }

    @Test func anOwnerReturningNonFiniteAveragesHasItsPartSkippedAndIsBanned() {
        var group = Self.group(members: 4, forging: 1, seed: 22) { values in values.indices.map { $0 == 3 ? .nan : values[$0] } }
        group.run()
        Self.expectPartSkipped(group, forger: 1, blamedFor: "not finite")
    }

    /// An honest owner whose own training overflowed must not send a non-finite average, which
    /// gets an owner banned at once: it leaves its values out of the chunk's average.
    @Test(arguments: [Aggregation.mean, .trimmedMean(fraction: 0.25)])
    func anOwnerWhoseOwnValuesAreNotFiniteAveragesTheOthersAndIsNeitherSkippedNorBlamed(aggregation: Aggregation) {
        var random = SeededRandom(seed: 27)
        let members = (0..<4).map { declaration(peerID(UInt8($0 + 1))) }
        let plan = GroupPlan(step: 41, elementCount: 800, members: members)!
        var vectors = (0..<4).map { _ in (0..<800).map { _ in Float.random(in: -1...1, using: &random) } }
        let overflowed = plan.parts[1].lowerBound + 3
        vectors[1][overflowed] = .infinity
        var settings = AllReduceRound.Settings(chunkSize: 50)
        settings.aggregation = aggregation
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, seed: random.next())
        group.run()
        for (index, member) in group.members.enumerated() {
            #expect(member.dropped == [] && member.banned == [], "member \(index)")
            #expect(member.result?.failedParts == [], "member \(index)")
            #expect(member.vector[overflowed].isFinite, "member \(index)")
        }
        if aggregation == .mean {
            let othersMean = (vectors[0][overflowed] + vectors[2][overflowed] + vectors[3][overflowed]) / 3
            #expect(abs(group.members[0].vector[overflowed] - othersMean) < 1e-6)
        }
    }

    /// Four members, of whom the first three leave the first `length` values of part 1 (owned
    /// by member 1) at zero and member 3 puts `senderValue(index)` there; `edit` changes the
    /// vectors further. The group after its round, the untouched range and the vectors.
    static func untouchedRows(seed: UInt64, length: Int, compression: Compression = .none, senderValue: (Int) -> Float,
                              edit: (inout [[Float]], GroupPlan) -> Void = { _, _ in }) -> (SimulatedGroup, Range<Int>, [[Float]]) {
        var random = SeededRandom(seed: seed)
        let members = (0..<4).map { declaration(peerID(UInt8($0 + 1))) }
        let plan = GroupPlan(step: 41, elementCount: 800, members: members)!
        var vectors = (0..<4).map { _ in (0..<800).map { _ in Float.random(in: -1...1, using: &random) } }
        let untouched = plan.parts[1].lowerBound..<plan.parts[1].lowerBound + length
        for index in untouched {
            for member in 0..<3 { vectors[member][index] = 0 }
            vectors[3][index] = senderValue(index)
        }
        edit(&vectors, plan)
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: AllReduceRound.Settings(compression: compression, chunkSize: 50),
                                   seed: random.next())
        group.run()
        return (group, untouched, vectors)
    }

    /// A chunk the honest members leave at zero has a median of zero, so no norm bound judges
    /// it; a sender's values near `Float`'s limit there, times its weight, overflowed the honest
    /// owner's average, and every member banned the owner for it.
    @Test(arguments: [Compression.none, .blockwiseInt8])
    func aSenderCannotGetAnHonestOwnerBannedThroughAChunkTheOthersLeaveAtZero(compression: Compression) {
        let peak = 7
        let (group, untouched, _) = Self.untouchedRows(seed: 28, length: 50, compression: compression) { index in
            index % 50 == peak ? 3e38 : 0
        }
        for (index, member) in group.members.enumerated() {
            #expect(member.banned == [], "member \(index) banned \(member.banned)")
            #expect(member.vector[untouched.lowerBound + peak].isFinite, "member \(index)")
        }
    }

    /// The same chunk with huge values that do not overflow: the honest owner's average of the
    /// part went out of the members' bound, so every member skipped the part and counted the
    /// owner (excluded at the second time). The sender's norm there is now budgeted by the
    /// owner's own norm of the part, and what goes past it is left out, without blame. An owner
    /// whose own training overflowed in the part still has a scale: its finite values.
    @Test(arguments: [Compression.none, .blockwiseInt8], [false, true])
    func aSenderCannotGetAnHonestOwnersPartSkippedThroughAChunkTheOthersLeaveAtZero(compression: Compression, ownerOverflowed: Bool) {
        let (group, untouched, _) = Self.untouchedRows(seed: 30, length: 50, compression: compression, senderValue: { _ in 1e6 }) { vectors, plan in
            if ownerOverflowed { vectors[1][plan.parts[1].upperBound - 1] = .infinity }
        }
        for (index, member) in group.members.enumerated() {
            #expect(member.result?.failedParts == [] && member.result?.outOfBoundAverages == [],
                    "member \(index): \(String(describing: member.result))")
            #expect(member.result?.dropped == [] && member.banned == [], "nobody is blamed: member \(index)")
            #expect(member.vector[untouched.lowerBound] == 0, "member \(index): \(member.vector[untouched.lowerBound])")
        }
    }

    /// Where a hostile member's zeros and the owner's untouched rows make a chunk's median zero,
    /// an honest sender's values there are judged by the owner's part alone. Past the budget
    /// they are left out of that chunk, and the sender is neither dropped nor blamed: dropping
    /// it, as a first version did, had it banned at the third time for another peer's doing.
    @Test func anHonestSenderPastTheBudgetWhereTheMedianIsZeroIsNotBlamed() {
        var random = SeededRandom(seed: 32)
        let members = (0..<3).map { declaration(peerID(UInt8($0 + 1))) }
        let plan = GroupPlan(step: 41, elementCount: 600, members: members)!
        var vectors = (0..<3).map { _ in (0..<600).map { _ in Float.random(in: -1...1, using: &random) } }
        let rows = plan.parts[0].lowerBound..<plan.parts[0].lowerBound + 50
        for index in rows {
            vectors[0][index] = 0
            vectors[1][index] = 5
            vectors[2][index] = 0
        }
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: AllReduceRound.Settings(chunkSize: 50), seed: random.next())
        group.run()
        for (index, member) in group.members.enumerated() {
            #expect(member.result?.dropped == [] && member.result?.failedParts == [] && member.banned == [],
                    "member \(index): \(String(describing: member.result))")
            #expect(member.vector[rows.lowerBound] == 0, "the values past the budget are left out: member \(index)")
        }
        let kept = plan.parts[0].lowerBound + 60
        #expect(abs(group.members[2].vector[kept] - (vectors[0][kept] + vectors[1][kept] + vectors[2][kept]) / 3) < 1e-6,
                "the sender's other chunks count")
    }

    /// Rare rows: one honest sender's values in chunks nobody else touches, as long as the
    /// others' gradients, are averaged in, not dropped.
    @Test func anHonestSendersValuesInChunksTheOthersLeaveAtZeroAreKept() {
        var random = SeededRandom(seed: 31)
        let rows = (0..<800).map { _ in Float.random(in: -1...1, using: &random) }
        let (group, untouched, vectors) = Self.untouchedRows(seed: 31, length: 100, senderValue: { rows[$0] })
        for (index, member) in group.members.enumerated() {
            #expect(member.result?.failedParts == [] && member.result?.dropped == [], "member \(index)")
            let expected = vectors[3][untouched.lowerBound] / 4
            #expect(abs(member.vector[untouched.lowerBound] - expected) < 1e-6, "member \(index)")
        }
    }

    /// Honest gradients that diverged to values near `Float`'s limit overflow when weighted; the
    /// owners send zeros there, and nobody is banned for the divergence.
    @Test func honestOwnersWithHugeFiniteGradientsAreNotBanned() {
        var random = SeededRandom(seed: 29)
        let members = (0..<4).map { declaration(peerID(UInt8($0 + 1))) }
        let plan = GroupPlan(step: 41, elementCount: 800, members: members)!
        let vectors = (0..<4).map { _ in (0..<800).map { _ in (Bool.random(using: &random) ? 1 : -1) * Float(5e37) } }
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: AllReduceRound.Settings(chunkSize: 50), seed: random.next())
        group.run()
        for (index, member) in group.members.enumerated() {
            #expect(member.banned == [] && member.result?.dropped == [], "member \(index)")
            #expect((0..<800).allSatisfy { member.vector[$0].isFinite }, "member \(index)")
        }
    }

    @Test func inAGroupOfTwoANonFiniteAverageIsSkippedWithoutBlame() {
        var group = Self.group(members: 2, forging: 1, seed: 24) { values in values.indices.map { $0 == 3 ? .nan : values[$0] } }
        group.run()
        Self.expectPartSkipped(group, forger: 1, blamedFor: nil)
    }

    /// Under local SGD a member that took more inner steps honestly sends a longer
    /// pseudo-gradient; the bounds compare norms per unit of weight there, and only there.
    @Test(arguments: [false, true]) func aHeavierMembersLongerPseudoGradientPassesOnlyWhenNormsGrowWithWeight(grow: Bool) {
        var random = SeededRandom(seed: 26)
        let members = (0..<4).map { declaration(peerID(UInt8($0 + 1)), samples: $0 == 3 ? 320 : 32) }
        let plan = GroupPlan(step: 41, elementCount: 800, members: members)!
        #expect(plan.weights == [32, 32, 32, 64], "the heavy member counts at twice the median")
        let vectors = (0..<4).map { member in
            (0..<800).map { _ in Float.random(in: -1...1, using: &random) * (member == 3 ? 15 : 1) }
        }
        var settings = AllReduceRound.Settings(chunkSize: 50)
        settings.normsGrowWithWeight = grow
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, seed: random.next())
        group.run()
        for (index, member) in group.members.enumerated() where index != 3 {
            if grow {
                #expect(member.result?.dropped == [] && member.result?.failedParts == [], "member \(index): \(String(describing: member.result))")
            } else {
                #expect(member.result?.dropped.map(\.peer) == [plan.members[3].peer], "member \(index)")
            }
        }
    }

    /// The red team's poisoned-average identity declares the most samples the wire allows; the
    /// round's total must stay what the average weighed, or no member's round report decodes.
    @Test func aMemberDeclaringTheMostSamplesCountsInTheTotalOnlyForItsCappedWeight() {
        var random = SeededRandom(seed: 25)
        let members = (0..<4).map { declaration(peerID(UInt8($0 + 1)), samples: $0 == 0 ? Declaration.maxSamples : 32) }
        let plan = GroupPlan(step: 41, elementCount: 800, members: members)!
        let vectors = (0..<4).map { _ in (0..<800).map { _ in Float.random(in: -1...1, using: &random) } }
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: AllReduceRound.Settings(chunkSize: 50), seed: random.next())
        group.run()
        for member in group.members {
            #expect(member.result?.totalSamples == 64 + 3 * 32, "\(String(describing: member.result))")
        }
    }

    @Test func honestAveragesPassEveryMembersCheck() {
        var group = Self.group(members: 4, forging: 1, seed: 23) { $0 }
        group.run()
        AllReduceTests.checkAverages(group, compression: .none)
        #expect(group.members.allSatisfy { $0.result?.failedParts == [] && $0.result?.dropped == [] })
    }
}

/// Which left-out members a round calls silent (`AllReduceResult.silent`): those that sent
/// this member nothing at all, not those that were merely late.
@Suite struct SilentMemberTests {
    static func group(fault: SimulatedGroup.Fault, seed: UInt64) -> SimulatedGroup {
        var random = SeededRandom(seed: seed)
        let members = (0..<3).map { declaration(peerID(UInt8($0 + 1))) }
        let plan = GroupPlan(step: 41, elementCount: 600, members: members)!
        let vectors = (0..<3).map { _ in (0..<600).map { _ in Float.random(in: -1...1, using: &random) } }
        var settings = AllReduceRound.Settings(chunkSize: 50)
        settings.silenceCheckInterval = nil
        return SimulatedGroup(plan: plan, vectors: vectors, settings: settings, faults: [2: fault], seed: random.next())
    }

    @Test func aMemberThatSendsNothingIsSilent() {
        var group = Self.group(fault: .stall(afterSending: 0), seed: 31)
        group.run()
        for index in 0..<2 {
            #expect(group.members[index].result?.leftOut == [peerID(3)])
            #expect(group.members[index].result?.silent == [peerID(3)])
        }
    }

    @Test func aMemberThatSentSomeThenStalledIsLateNotSilent() {
        var group = Self.group(fault: .stall(afterSending: 3), seed: 32)
        group.run()
        for index in 0..<2 {
            #expect(group.members[index].result?.leftOut == [peerID(3)])
            #expect(group.members[index].result?.silent == [])
        }
    }
}
