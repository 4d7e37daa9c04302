import Foundation
import Testing
@testable import Experiments
@testable import Trainer

/// The ALiBi experiment end to end on a model small enough for the test suite: the shape and
/// finiteness of its results, not their values.
@Suite struct AlibiExperimentTests {
    static var tinyPlan: AlibiExperiment.Plan {
        var plan = AlibiExperiment.Plan.quick
        plan.model = ModelConfig(hiddenSize: 16, layerCount: 1, headCount: 2, contextLength: 8)
        plan.trainedContext = 8
        plan.tokensPerStep = 32
        plan.steps = 4
        plan.warmupSteps = 1
        plan.contextMultiples = [1, 2, 4]
        plan.validationBytes = 300
        plan.memoryModel = ModelConfig(hiddenSize: 16, layerCount: 1, headCount: 2, contextLength: 8)
        plan.memoryWindow = 32
        plan.progressEvery = 2
        // Fixed, so that tests changing the BLAS thread count elsewhere cannot change the sums.
        plan.lanes = 1
        return plan
    }

    static let corpus = Array(String(repeating: "Now is the winter of our discontent made glorious summer. ", count: 80).utf8)

    static func results() throws -> AlibiResults {
        try AlibiExperiment.run(plan: tinyPlan, corpus: corpus, corpusName: "richard", progress: { _ in })
    }

    @Test func everyArmIsScoredAtEveryContextBothWays() throws {
        let results = try Self.results()
        #expect(results.models.map(\.name) == ["alibi@8", "sinusoidal@8", "learned@8", "sinusoidal@16"])
        #expect(results.evaluationContexts == [8, 16, 32])
        for model in results.models {
            #expect(model.evaluations.map(\.context) == [8, 8, 16, 16, 32, 32])
            #expect(model.evaluations.map(\.stride) == [8, 4, 16, 8, 32, 16])
            #expect(model.finalTrainingLoss.isFinite && model.parameters > 0)
            for evaluation in model.evaluations {
                if model.positionEncoding == "learned" && evaluation.context > 8 {
                    #expect(evaluation.perplexity == nil && evaluation.unavailable != nil)
                } else {
                    let perplexity = try #require(evaluation.perplexity)
                    #expect(perplexity.isFinite && perplexity > 1)
                    #expect(evaluation.tokens == results.validationBytes - 1)
                }
            }
        }
        #expect(results.models[3].sequencesPerStep == 2 && results.models[0].sequencesPerStep == 4)
        #expect(results.memory.window == 32 && results.memory.peakResidentMebibytes > 0)
    }

    @Test func runsAreDeterministicAndTheFileRoundTrips() throws {
        let first = try Self.results(), second = try Self.results()
        #expect(first.models.map(\.evaluations) == second.models.map(\.evaluations))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("alibi-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try first.write(to: folder)
        #expect(try AlibiResults.read(from: folder) == first)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("results.json")))
        let models = try #require((object as? [String: Any])?["models"] as? [[String: Any]])
        #expect(models.first?["position_encoding"] as? String == "alibi")
        let figures = try first.writeFigures(to: folder).map(\.lastPathComponent)
        #expect(figures == ["perplexity-nonoverlapping.svg", "perplexity-sliding.svg", "train-short-test-long.svg"])
    }
}
