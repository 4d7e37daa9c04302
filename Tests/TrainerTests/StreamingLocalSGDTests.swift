import Testing
@testable import Trainer

/// Streaming local SGD (`LocalSGDSettings.fragments`): each round averages one fragment of the
/// parameters, in turn; the outer step moves only that fragment, and the rest of a peer's own
/// parameters train on towards its own round.
@Suite struct StreamingLocalSGDTests {
    static func run(fragments: Int, dataSeed: UInt64? = nil) throws -> TrainingRun {
        try TrainingRun(settings: UpdateReplayTests.settings(), dataset: try CheckpointTests.dataset(), dataSeed: dataSeed,
                        localSGD: LocalSGDSettings(localSteps: 4, outerLearningRate: 0.7, outerMomentum: 0.9, fragments: fragments))
    }

    @Test(arguments: [(1, 10), (3, 10), (4, 7), (4, 3), (2, 0), (5, 116_608)])
    func theFragmentsOfOneCycleOfStepsTileTheVector(fragments: Int, elements: Int) {
        let settings = LocalSGDSettings(localSteps: 20, fragments: fragments)
        let cycle = (0..<fragments).map { settings.fragment(atStep: 7 * fragments + $0, of: elements) }
        #expect(cycle.first?.lowerBound == 0 && cycle.last?.upperBound == elements)
        for (one, next) in zip(cycle, cycle.dropFirst()) { #expect(one.upperBound == next.lowerBound) }
        #expect(cycle.allSatisfy { $0.count == elements / fragments || $0.count == elements / fragments + 1 })
        #expect(settings.fragment(atStep: 3, of: elements) == settings.fragment(atStep: 3 + fragments, of: elements))
    }

    @Test func fragmentsMustDivideTheLocalSteps() {
        for (localSteps, fragments) in [(4, 3), (4, 5), (4, 0), (1, 2), (6, -1)] {
            #expect(LocalSGDSettings(localSteps: localSteps, fragments: fragments).problem != nil, "\(fragments) fragments of \(localSteps)")
        }
        for (localSteps, fragments) in [(4, 2), (4, 4), (6, 3), (1, 1)] {
            let settings = LocalSGDSettings(localSteps: localSteps, fragments: fragments)
            #expect(settings.problem == nil && settings.localStepsPerRound == localSteps / fragments)
        }
    }

    /// Round 0 averages the first half of the parameters: only there do the shared parameters
    /// move and the peer's own start again from them; the second half keeps its training and
    /// goes into round 1, whose pseudo-gradient carries both rounds' inner steps there.
    @Test func aRoundMovesOnlyItsFragmentAndTheRestKeepsTraining() throws {
        let run = try Self.run(fragments: 2)
        let count = run.model.parameters.count
        let first = 0..<count / 2, second = count / 2..<count
        LocalSGDTests.train(run, innerSteps: 2)
        run.averageAccumulatedGradients()
        let shared = LocalSGDTests.values(run.outer!.parameters), own = LocalSGDTests.values(run.model.parameters)
        run.applyUpdate()
        let sharedAfter = LocalSGDTests.values(run.outer!.parameters), ownAfter = LocalSGDTests.values(run.model.parameters)
        #expect(Array(sharedAfter[second]) == Array(shared[second]), "outside the fragment the shared parameters wait")
        #expect(Array(sharedAfter[first]) != Array(shared[first]))
        #expect(Array(ownAfter[first]) == Array(sharedAfter[first]), "the averaged fragment starts again from the shared values")
        #expect(Array(ownAfter[second]) == Array(own[second]), "the rest keeps what it trained")
        #expect(LocalSGDTests.values(run.outer!.momentum)[second].allSatisfy { $0 == 0 })

        LocalSGDTests.train(run, innerSteps: 2)
        run.averageAccumulatedGradients()
        let own2 = LocalSGDTests.values(run.model.parameters)
        #expect(Array(LocalSGDTests.values(run.averagingVector)[second]) == zip(shared[second], own2[second]).map { $0 - $1 },
                "round 1's pseudo-gradient is the distance trained since the fragment was last averaged")
        run.applyUpdate()
        let sharedAfter2 = LocalSGDTests.values(run.outer!.parameters)
        #expect(Array(sharedAfter2[first]) == Array(sharedAfter[first]))
        #expect(Array(sharedAfter2[second]) != Array(shared[second]))
        #expect(run.step == 2)
    }

    /// What a joiner does with a kept update (`TrainingRun.applyUpdate` with the update's skipped
    /// ranges, which name everything outside the fragment) and what a late joiner does beside its
    /// training (`applyReplayedUpdate`) both reach the member's state bit for bit.
    @Test func replayersOfStreamingRoundsReachTheMembersStateBitForBit() throws {
        let member = try Self.run(fragments: 2, dataSeed: 1), replayer = try Self.run(fragments: 2, dataSeed: 2)
        let late = try Self.run(fragments: 2, dataSeed: 3)
        let count = member.model.parameters.count
        for round in 0..<4 {
            LocalSGDTests.train(member, innerSteps: 2)
            member.averageAccumulatedGradients()
            let update = LocalSGDTests.values(member.averagingVector)
            let fragment = member.outer!.settings.fragment(atStep: round, of: count)
            let outside = [0..<fragment.lowerBound, fragment.upperBound..<count].filter { !$0.isEmpty }
            let failedPart = round == 2 ? [fragment.lowerBound + 5..<fragment.lowerBound + 50] : []
            member.applyUpdate(skipping: failedPart)
            LateJoinReplayTests.write(update, into: replayer.averagingVector)
            replayer.applyUpdate(skipping: (outside + failedPart).sorted { $0.lowerBound < $1.lowerBound })
            LocalSGDTests.train(late, innerSteps: 1)
            LateJoinReplayTests.write(update, into: late.replayBuffer)
            late.applyReplayedUpdate(skipping: failedPart)
            let state = UpdateReplayTests.state(of: member)
            #expect(UpdateReplayTests.state(of: replayer) == state, "round \(round)")
            #expect(UpdateReplayTests.state(of: late) == state, "round \(round)")
        }
    }
}
