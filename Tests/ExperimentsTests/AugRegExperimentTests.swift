import Foundation
import Testing
@testable import Experiments
@testable import Trainer

/// The regularisation study end to end on a model small enough for the test suite: the grid's
/// structure, finiteness and determinism, not its values.
@Suite struct AugRegExperimentTests {
    static var tinyPlan: AugRegExperiment.Plan {
        var plan = AugRegExperiment.Plan.quick
        plan.model = ModelConfig(hiddenSize: 16, layerCount: 2, headCount: 2, contextLength: 8)
        plan.sequencesPerStep = 4
        plan.baseSteps = 4
        plan.warmupSteps = 1
        plan.validationBytes = 300
        plan.curveWindows = 4
        plan.curveInterval = 2
        plan.progressEvery = 4
        // Fixed, so that tests changing the BLAS thread count elsewhere cannot change the sums.
        plan.lanes = 1
        return plan
    }

    static let corpus = Array(String(repeating: "Now is the winter of our discontent made glorious summer. ", count: 80).utf8)

    static func results() throws -> AugRegResults {
        try AugRegExperiment.run(plan: tinyPlan, corpus: corpus, corpusName: "richard", progress: { _ in })
    }

    /// One run shared by the tests that only read it (the study trains twelve arms).
    static let sharedResults = Result { try results() }

    @Test func everyCellOfTheGridIsTrainedAndScoredOnTheSameHeldOutText() throws {
        let results = try Self.sharedResults.get()
        #expect(results.arms.count == 12)
        #expect(results.dataFractions == [0.1, 0.3, 1.0] && results.computeMultiples == [1, 3])
        #expect(results.arms.map(\.name).prefix(4) == ["10% plain 1×", "10% reg 1×", "10% plain 3×", "10% reg 3×"])
        #expect(results.validationBytes == 300)
        for arm in results.arms {
            #expect(arm.steps == 4 * arm.computeMultiple)
            #expect(arm.curve.map(\.step) == Array(stride(from: 2, through: arm.steps, by: 2)))
            #expect(arm.trainingBytes == Int(Double(results.trainingBytes) * arm.dataFraction))
            for loss in [arm.validationLoss, arm.trainingSubsetLoss, arm.finalTrainingLoss] + arm.curve.map(\.validationLoss) {
                #expect(loss.isFinite && loss > 0)
            }
        }
        // Regularisation changes training, never the held-out text or the initialisation.
        let plain = try #require(results.arm(fraction: 1, regularized: false, computeMultiple: 1))
        let regularized = try #require(results.arm(fraction: 1, regularized: true, computeMultiple: 1))
        #expect(plain.validationLoss != regularized.validationLoss)
        #expect(results.gridTable.split(separator: "\n").count == 5)
    }

    @Test func runsAreDeterministicAndTheFileRoundTrips() throws {
        let first = try Self.sharedResults.get(), second = try Self.results()
        #expect(first.arms.map(\.validationLoss) == second.arms.map(\.validationLoss))
        #expect(first.arms.map(\.curve) == second.arms.map(\.curve))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("augreg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try first.write(to: folder)
        #expect(try AugRegResults.read(from: folder) == first)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("results.json")))
        let regularization = try #require((object as? [String: Any])?["regularization"] as? [String: Any])
        #expect(regularization["byte_corruption"] as? Double == 0.05)
        let figures = try first.writeFigures(to: folder).map(\.lastPathComponent)
        #expect(figures == ["held-out-loss-grid.svg", "memorisation-gap.svg", "validation-curves-1x.svg", "validation-curves-3x.svg"])
    }
}
