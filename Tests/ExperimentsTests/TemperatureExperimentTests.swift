import Foundation
import Testing
@testable import Experiments
@testable import Trainer

/// The temperature experiment end to end on a model small enough for the test suite: the shape,
/// finiteness and determinism of its results, not their values.
@Suite struct TemperatureExperimentTests {
    static var tinyPlan: TemperatureExperiment.Plan {
        var plan = TemperatureExperiment.Plan.quick
        plan.model = ModelConfig(hiddenSize: 16, layerCount: 1, headCount: 2, contextLength: 8)
        plan.samples = 64
        plan.checkpointEvery = 32
        plan.validationWindows = 4
        plan.microBatch = 4
        plan.batches = [4, 16]
        plan.seeds = [1, 2]
        plan.sweepBatch = 16
        plan.sweepMultiples = [1, 4]
        plan.noiseSmallBatch = 2
        plan.noiseDraws = 4
        plan.noiseCheckpoints = [0, 2]
        plan.hessianBatch = 2
        plan.hessianIterations = 3
        plan.stabilityModel = ModelConfig(hiddenSize: 16, layerCount: 1, headCount: 2, contextLength: 8)
        plan.stabilityBatches = [4, 8]
        plan.stabilitySamples = 32
        // Fixed, so that tests changing the BLAS thread count elsewhere cannot change the sums.
        plan.lanes = 1
        return plan
    }

    static let corpus = Array(String(repeating: "Now is the winter of our discontent made glorious summer. ", count: 80).utf8)

    static func results() throws -> TemperatureResults {
        try TemperatureExperiment.run(plan: tinyPlan, corpus: corpus, corpusName: "richard", progress: { _ in })
    }

    @Test func everySetIsMeasuredAtEveryCheckpoint() throws {
        let results = try Self.results()
        // Batches 4 and 16 × seeds 1 and 2, at momentum 0 and 0.9.
        #expect(results.invariance.map(\.batch) == [4, 4, 16, 16, 4, 4, 16, 16])
        #expect(results.invariance.map(\.momentum) == [0, 0, 0, 0, 0.9, 0.9, 0.9, 0.9])
        for curve in results.invariance + results.sweep + results.jitter {
            #expect(curve.checkpoints.map(\.samples).first == 0 && curve.checkpoints.count == 3)
            #expect(curve.checkpoints.allSatisfy { $0.validationLoss?.isFinite == true })
            #expect(curve.checkpoints.last!.samples >= 64 && curve.divergedAtSamples == nil)
        }
        // lr = T × B × (1 − μ): at B 16, T 1/32: 0.5 plain, 0.05 with momentum 0.9.
        #expect(abs(results.invariance[2].learningRate - 0.5) < 1e-12 && abs(results.invariance[6].learningRate - 0.05) < 1e-12)
        #expect(results.invariance.filter { $0.seed == 1 }.allSatisfy { $0.sharpness?.eigenvalue.isFinite == true })
        #expect(results.invariance.filter { $0.seed == 2 }.allSatisfy { $0.sharpness == nil })
        #expect(results.sweep.map(\.temperature) == [1.0 / 32, 4.0 / 32] && results.sweep[0] == results.invariance[2])
        #expect(results.jitter.map(\.mode) == ["jittered-lr-follows-actual", "jittered-lr-follows-actual",
                                              "jittered-lr-follows-target", "jittered-lr-follows-target"])
        #expect(results.noiseScale.map(\.samples) == [0, 64] && results.noiseScale.allSatisfy { $0.bigBatch == 8 })
        #expect(results.agreement.count == 4 && results.agreement.allSatisfy { $0.meanSeedRange != nil && $0.finalValidationMean != nil })
        #expect(results.agreement.filter { $0.batch == 4 }.allSatisfy { $0.meanGapToReference == 0 })
        #expect(results.jitterAgreement.count == 2)
        #expect(results.stability.map(\.batch) == [4, 8] && results.stability.map(\.steps) == [8, 4])
        #expect(results.stability.allSatisfy { $0.trainingLosses.allSatisfy(\.isFinite) && $0.effectiveLearningRate > $0.learningRate })
    }

    /// A jittered step carries between B and 1.5 B samples; lr following the actual batch
    /// scales the step's mean gradient by actual / B, so the two jittered modes differ.
    @Test func jitteredBatchesOvershootTheTargetByAtMostHalf() throws {
        let results = try Self.results()
        for curve in results.jitter {
            #expect(curve.steps >= 64 / 24 && curve.steps <= 64 / 16)
        }
        let actual = results.jitter.filter { $0.mode == "jittered-lr-follows-actual" }
        let target = results.jitter.filter { $0.mode == "jittered-lr-follows-target" }
        #expect(actual.map(\.checkpoints.last?.samples) == target.map(\.checkpoints.last?.samples))
        #expect(actual.map(\.finalValidationLoss) != target.map(\.finalValidationLoss))
    }

    @Test func aDivergedSeedIsLeftOutOfItsBatchsBand() {
        func curve(seed: UInt64, losses: [Double?], diverged: Int?) -> TemperatureResults.Curve {
            TemperatureResults.Curve(
                batch: 32, temperature: 1.0 / 64, momentum: 0, learningRate: 0.5, seed: seed, mode: "fixed", steps: 2,
                checkpoints: losses.enumerated().map { .init(samples: $0.offset * 32, trainingLoss: $0.element, validationLoss: $0.element) },
                divergedAtSamples: diverged, sharpness: nil, seconds: 0)
        }
        let band = TemperatureFigures.seedBand(name: "B = 32", [
            curve(seed: 1, losses: [5, 4, 3], diverged: nil), curve(seed: 2, losses: [5, nil, nil], diverged: 40),
            curve(seed: 3, losses: [5, 3.5, 2.5], diverged: nil),
        ])
        #expect(band.name == "B = 32 (2 of 3 seeds)")
        #expect(band.points.map(\.middle) == [5, 3.75, 2.75] && band.points.map(\.low) == [5, 3.5, 2.5])
    }

    @Test func runsAreDeterministicAndTheFileRoundTrips() throws {
        let first = try Self.results(), second = try Self.results()
        #expect(first.invariance.map(\.checkpoints) == second.invariance.map(\.checkpoints))
        #expect(first.jitter.map(\.checkpoints) == second.jitter.map(\.checkpoints))
        #expect(first.noiseScale == second.noiseScale && first.stability.map(\.trainingLosses) == second.stability.map(\.trainingLosses))
        #expect(first.sweep.map(\.sharpness) == second.sweep.map(\.sharpness))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("temperature-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try first.write(to: folder)
        #expect(try TemperatureResults.read(from: folder) == first)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("results.json")))
        #expect((object as? [String: Any])?["samples_per_run"] as? Int == 64)
        let figures = try first.writeFigures(to: folder).map(\.lastPathComponent)
        #expect(figures == ["batch-jitter.svg", "invariance-momentum-0.9.svg", "invariance-momentum-0.svg", "noise-scale.svg",
                            "stability.svg", "sweep-sharpness.svg", "sweep-validation.svg"])
    }
}
