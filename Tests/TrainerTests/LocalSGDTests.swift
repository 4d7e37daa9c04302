import Testing
@testable import Trainer

/// Local SGD (DiLoCo): inner steps on a peer's own parameters, the pseudo-gradient, and the outer
/// Nesterov step every member applies alike.
@Suite struct LocalSGDTests {
    static func run(localSteps: Int = 3, outerLearningRate: Double = 0.7, outerMomentum: Double = 0.9) throws -> TrainingRun {
        try TrainingRun(settings: UpdateReplayTests.settings(), dataset: try CheckpointTests.dataset(),
                        localSGD: LocalSGDSettings(localSteps: localSteps, outerLearningRate: outerLearningRate, outerMomentum: outerMomentum))
    }

    /// Trains `innerSteps` inner steps: `batchSize / microBatchSize` micro-batches each.
    static func train(_ run: TrainingRun, innerSteps: Int) {
        let perStep = run.settings.batchSize / run.settings.effectiveMicroBatchSize
        for _ in 0..<(innerSteps * perStep) { run.accumulateMicroBatch() }
    }

    static func values(_ buffer: FlatBuffer<Float>) -> [Float] {
        Array(UnsafeBufferPointer(start: buffer.base, count: buffer.count))
    }

    @Test func innerStepsMoveOnlyThePeersOwnParametersAndThePseudoGradientIsTheirDistance() throws {
        let run = try Self.run()
        let shared = Self.values(run.model.parameters)
        Self.train(run, innerSteps: 3)
        #expect(run.innerSteps == 3 && run.step == 0)
        #expect(Self.values(run.outer!.parameters) == shared, "the shared parameters wait for the outer step")
        let local = Self.values(run.model.parameters)
        #expect(local != shared)
        let sharedBytes = shared.withUnsafeBytes { Array($0) }
        #expect(Array(UpdateReplayTests.state(of: run).prefix(sharedBytes.count)) == sharedBytes, "the state peers compare is the shared one")
        run.averageAccumulatedGradients()
        #expect(Self.values(run.averagingVector) == zip(shared, local).map { $0 - $1 })
    }

    @Test func theOuterStepIsNesterovSGDOnThePseudoGradient() {
        let outer = OuterOptimizer(settings: LocalSGDSettings(localSteps: 2, outerLearningRate: 0.5, outerMomentum: 0.5), parameterCount: 3)
        for (index, value) in [Float(1), 2, 3].enumerated() { outer.parameters[index] = value }
        let delta = FlatBuffer<Float>(count: 3)
        for (index, value) in [Float(0.5), -1, 4].enumerated() { delta[index] = value }
        outer.apply(pseudoGradient: delta, skipping: [2..<3])
        // v = Δ; θ ← θ − lr (Δ + μ v) = θ − 0.75 Δ; the skipped element keeps θ and v.
        #expect(Self.values(outer.parameters) == [0.625, 2.75, 3])
        #expect(Self.values(outer.momentum) == [0.5, -1, 0])
        outer.apply(pseudoGradient: delta)
        // v = 0.5 v + Δ = 1.5 Δ; θ ← θ − 0.5 (Δ + 0.75 Δ) = θ − 0.875 Δ; the element skipped
        // before starts from v = 0: θ ← 3 − 0.75 × 4.
        #expect(Self.values(outer.parameters) == [0.1875, 3.625, 0])
        #expect(outer.step == 2)
    }

    @Test func aNonFinitePseudoGradientChangesNothingButTheStep() throws {
        let run = try Self.run()
        Self.train(run, innerSteps: 1)
        run.averageAccumulatedGradients()
        let before = UpdateReplayTests.state(of: run)
        run.averagingVector[7] = .infinity
        run.applyUpdate()
        #expect(UpdateReplayTests.state(of: run) == before)
        #expect(run.step == 1 && run.innerSteps == 0)
        #expect(Self.values(run.model.parameters) == Self.values(run.outer!.parameters))
    }

    @Test func outerRateOneWithoutMomentumLandsWhereTheInnerStepsWent() throws {
        let run = try Self.run(outerLearningRate: 1, outerMomentum: 0)
        Self.train(run, innerSteps: 3)
        let local = Self.values(run.model.parameters)
        run.averageAccumulatedGradients()
        run.applyUpdate()
        for (shared, own) in zip(Self.values(run.outer!.parameters), local) {
            #expect(abs(shared - own) <= 1e-6 * max(1, abs(own)))
        }
    }

    @Test func aMemberReplayingTheAveragedPseudoGradientsReachesTheSameStatesBitForBit() throws {
        let member = try Self.run(), joiner = try Self.run()
        let start = UpdateReplayTests.state(of: member)
        Self.train(joiner, innerSteps: 2)
        start.withUnsafeBytes { joiner.loadState(from: $0, step: 0) }
        #expect(joiner.innerSteps == 0 && Self.values(joiner.model.parameters) == Self.values(member.outer!.parameters))
        for round in 0..<3 {
            Self.train(member, innerSteps: 3)
            member.averageAccumulatedGradients()
            let averaged = Self.values(member.averagingVector)
            let skipped = round == 1 ? [0..<100] : []
            member.applyUpdate(skipping: skipped)
            for index in averaged.indices { joiner.averagingVector[index] = averaged[index] }
            joiner.applyUpdate(skipping: skipped)
            #expect(UpdateReplayTests.state(of: joiner) == UpdateReplayTests.state(of: member))
        }
        #expect(joiner.step == 3 && member.step == 3)
    }

    @Test func aPartialInnerBatchIsSteppedBeforeThePseudoGradientIsTaken() throws {
        let run = try Self.run()
        run.accumulateMicroBatch()
        #expect(run.innerSteps == 0)
        run.averageAccumulatedGradients()
        #expect(run.innerStepsInRound == 1 && run.innerSteps == 0)
        #expect(Self.values(run.averagingVector).contains { $0 != 0 })
    }

    /// Inner steps taken while the peers average are kept: the outer step moves the model by
    /// as much as it moves the shared parameters.
    @Test func innerStepsTakenDuringTheRoundSurviveTheOuterStep() throws {
        let overlapped = try Self.run(), blocking = try Self.run()
        for run in [overlapped, blocking] {
            Self.train(run, innerSteps: 2)
            run.averageAccumulatedGradients()
        }
        let boundary = Self.values(overlapped.model.parameters)
        Self.train(overlapped, innerSteps: 1)
        let progress = zip(Self.values(overlapped.model.parameters), boundary).map { $0 - $1 }
        #expect(progress.contains { $0 != 0 } && overlapped.innerSteps == 1)
        overlapped.applyUpdate()
        blocking.applyUpdate()
        #expect(UpdateReplayTests.state(of: overlapped) == UpdateReplayTests.state(of: blocking), "the shared state is the same")
        #expect(Self.values(blocking.model.parameters) == Self.values(blocking.outer!.parameters))
        for (index, (own, shared)) in zip(Self.values(overlapped.model.parameters), Self.values(overlapped.outer!.parameters)).enumerated() {
            #expect(own == shared + progress[index])
        }
    }
}
