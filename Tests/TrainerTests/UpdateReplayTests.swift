import Testing
@testable import Trainer

/// A peer that replays another's updates (the gradient each step consumed, and the parts it
/// skipped) onto the state that peer started from must end with the same state, bit for bit:
/// the optimizer is elementwise in a fixed order, with no threads, so nothing but its inputs
/// decides its result (docs/protocol.md, "Update replay").
@Suite struct UpdateReplayTests {
    static func settings() -> TrainingSettings {
        var settings = CheckpointTests.settings()
        settings.sgd = SGDSettings(momentum: 0.9, nesterov: true, weightDecay: 0.1, gradientClipNorm: 0.5)
        return settings
    }

    static func state(of run: TrainingRun) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: run.stateByteCount) { buffer, count in
            run.copyState(into: UnsafeMutableRawBufferPointer(buffer))
            count = run.stateByteCount
        }
    }

    @Test func replayingTheAppliedGradientsOnTheStartingStateGivesTheSameStatesBitForBit() throws {
        let member = try TrainingRun(settings: Self.settings(), dataset: try CheckpointTests.dataset())
        member.computeGradients()
        member.applyUpdate()
        let start = Self.state(of: member), startStep = member.step
        let count = member.model.gradients.count
        let skips: [[Range<Int>]] = [[], [0..<(count / 3), (count / 2)..<(count / 2 + 7)], []]
        var applied: [(gradients: [Float], skipped: [Range<Int>], after: [UInt8])] = []
        for (index, skipped) in skips.enumerated() {
            member.computeGradients()
            if index == 2 { member.model.gradients[5] = .nan }
            let gradients = Array(UnsafeBufferPointer(start: member.model.gradients.base, count: count))
            member.applyUpdate(skipping: skipped)
            applied.append((gradients, skipped, Self.state(of: member)))
        }

        let joiner = try TrainingRun(settings: Self.settings(), dataset: try CheckpointTests.dataset())
        joiner.computeGradients()
        start.withUnsafeBytes { joiner.loadState(from: $0, step: startStep) }
        for update in applied {
            for index in 0..<count { joiner.model.gradients[index] = update.gradients[index] }
            joiner.applyUpdate(skipping: update.skipped)
            #expect(Self.state(of: joiner) == update.after)
        }
        #expect(joiner.step == member.step)
    }
}
