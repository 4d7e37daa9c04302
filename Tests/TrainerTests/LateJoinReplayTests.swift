import Testing
@testable import Trainer

/// A late joiner under overlapped local SGD (docs/protocol.md, "Update replay"): it sends the
/// pseudo-gradient it trained on the state before, replays the update it missed beside its
/// training, and must then hold the members' state bit for bit while keeping what it trained.
@Suite struct LateJoinReplayTests {
    static func peer(dataSeed: UInt64) throws -> TrainingRun {
        try TrainingRun(settings: UpdateReplayTests.settings(), dataset: try CheckpointTests.dataset(), dataSeed: dataSeed,
                        localSGD: LocalSGDSettings(localSteps: 3, outerLearningRate: 0.7, outerMomentum: 0.9))
    }

    static func write(_ values: [Float], into buffer: FlatBuffer<Float>) {
        for (index, value) in values.enumerated() { buffer[index] = value }
    }

    /// This peer's own parameters relative to the shared ones: its training since the last outer step.
    static func ownOffset(_ run: TrainingRun) -> [Float] {
        zip(LocalSGDTests.values(run.model.parameters), LocalSGDTests.values(run.outer!.parameters)).map { $0 - $1 }
    }

    /// Equal but for the rounding of moving both operands by the same shift.
    static func nearlyEqual(_ left: [Float], _ right: [Float]) -> Bool {
        left.count == right.count && zip(left, right).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }
    }

    /// A peer at state s that trained a round: its pseudo-gradient is sent, and it trains on
    /// (one inner step and a micro-batch) while the round averages.
    static func lateJoinerThatSentItsRound(dataSeed: UInt64) throws -> (run: TrainingRun, sent: [Float], boundary: [Float]) {
        let late = try peer(dataSeed: dataSeed)
        LocalSGDTests.train(late, innerSteps: 2)
        late.averageAccumulatedGradients()
        let sent = LocalSGDTests.values(late.averagingVector), boundary = LocalSGDTests.values(late.model.parameters)
        LocalSGDTests.train(late, innerSteps: 1)
        late.accumulateMicroBatch()
        return (late, sent, boundary)
    }

    @Test func aLateJoinerReplayingTheMissedUpdateEndsTheNextRoundBitIdenticalToTheMembers() throws {
        let member = try Self.peer(dataSeed: 1), direct = try Self.peer(dataSeed: 3)
        // Round s: the member's pseudo-gradient stands for the round's average, a part not averaged.
        LocalSGDTests.train(member, innerSteps: 2)
        member.averageAccumulatedGradients()
        let update = LocalSGDTests.values(member.averagingVector), skipped = [10..<40, 100..<101]
        member.applyUpdate(skipping: skipped)
        let memberStateAfterUpdate = UpdateReplayTests.state(of: member)
        LocalSGDTests.train(member, innerSteps: 2)
        member.averageAccumulatedGradients()

        let (late, sent, boundary) = try Self.lateJoinerThatSentItsRound(dataSeed: 2)
        let ownBefore = Self.ownOffset(late), trainedSinceSent = zip(LocalSGDTests.values(late.model.parameters), boundary).map { $0 - $1 }
        let counters = [late.innerSteps, late.innerStepsInRound, late.accumulatedMicroBatches]
        Self.write(update, into: late.replayBuffer)
        late.applyReplayedUpdate(skipping: skipped)
        #expect(UpdateReplayTests.state(of: late) == memberStateAfterUpdate && late.step == 1, "the donor's state, so its hash")
        #expect(Self.nearlyEqual(Self.ownOffset(late), ownBefore), "the training since is kept")
        #expect(LocalSGDTests.values(late.averagingVector) == sent)
        #expect([late.innerSteps, late.innerStepsInRound, late.accumulatedMicroBatches] == counters)

        // Round s + 1: both sent pseudo-gradients; both apply the average.
        let average = zip(LocalSGDTests.values(member.averagingVector), sent).map { ($0 + $1) / 2 }
        for run in [member, late] {
            Self.write(average, into: run.averagingVector)
            run.applyUpdate()
        }
        for (vector, skipping) in [(update, skipped), (average, [])] {
            Self.write(vector, into: direct.averagingVector)
            direct.applyUpdate(skipping: skipping)
        }
        #expect(UpdateReplayTests.state(of: late) == UpdateReplayTests.state(of: member))
        #expect(UpdateReplayTests.state(of: late) == UpdateReplayTests.state(of: direct))
        #expect(late.step == 2 && member.step == 2 && direct.step == 2)
        #expect(Self.nearlyEqual(Self.ownOffset(late), trainedSinceSent), "the next round starts from what it trained since it sent")
    }

    @Test func aNonFiniteReplayedUpdateChangesNothingButTheStep() throws {
        let (late, _, _) = try Self.lateJoinerThatSentItsRound(dataSeed: 2)
        let state = UpdateReplayTests.state(of: late), own = LocalSGDTests.values(late.model.parameters)
        Self.write([Float](repeating: 0.25, count: late.replayBuffer.count), into: late.replayBuffer)
        late.replayBuffer[3] = .nan
        late.applyReplayedUpdate(skipping: [])
        #expect(UpdateReplayTests.state(of: late) == state && late.step == 1)
        #expect(LocalSGDTests.values(late.model.parameters) == own)
    }

    @Test func loadingTheSharedStateBackUndoesAReplayAndKeepsTheTraining() throws {
        let (late, sent, _) = try Self.lateJoinerThatSentItsRound(dataSeed: 2)
        let start = UpdateReplayTests.state(of: late), ownBefore = Self.ownOffset(late)
        Self.write([Float](repeating: 0.01, count: late.replayBuffer.count), into: late.replayBuffer)
        late.applyReplayedUpdate(skipping: [])
        #expect(UpdateReplayTests.state(of: late) != start)
        start.withUnsafeBytes { late.loadSharedState(from: $0, step: 0) }
        #expect(UpdateReplayTests.state(of: late) == start && late.step == 0)
        #expect(Self.nearlyEqual(Self.ownOffset(late), ownBefore))
        #expect(LocalSGDTests.values(late.averagingVector) == sent)
        #expect(late.innerSteps == 1 && late.accumulatedMicroBatches == 1)
    }
}
