import Foundation
import Testing
@testable import Trainer

/// Regularisation outside the gradients: masks and corruption are reproducible and have their
/// rates, rate 0 changes nothing, evaluation ignores them, and the settings validate.
@Suite struct RegularizationTests {
    @Test func dropoutMasksHaveTheirRateKeepTheExpectationAndRepeatForASeed() {
        let mask = DropoutMask(rate: 0.25, seed: 9)
        var first = [Double](repeating: 1, count: 40_000), second = first
        first.withUnsafeMutableBufferPointer { mask.apply(to: $0.baseAddress!, count: $0.count) }
        second.withUnsafeMutableBufferPointer { mask.apply(to: $0.baseAddress!, count: $0.count) }
        #expect(first == second)
        #expect(Set(first) == [0, 1 / 0.75])
        let dropped = Double(first.filter { $0 == 0 }.count) / Double(first.count)
        #expect(abs(dropped - 0.25) < 0.01)
        #expect(abs(first.reduce(0, +) / Double(first.count) - 1) < 0.02)
        var other = [Double](repeating: 1, count: 40_000)
        other.withUnsafeMutableBufferPointer { mask.keyed(1).apply(to: $0.baseAddress!, count: $0.count) }
        #expect(other != first)
    }

    @Test func byteCorruptionReplacesAboutItsRateOfInputsReproducibly() {
        let clean = (0..<20_000).map { Int32($0 % 256) }
        var once = clean, twice = clean
        once.withUnsafeMutableBufferPointer { ByteCorruption(rate: 0.1).apply(to: $0, seed: 4) }
        twice.withUnsafeMutableBufferPointer { ByteCorruption(rate: 0.1).apply(to: $0, seed: 4) }
        #expect(once == twice)
        // A replacement may draw the byte it replaces (1 in 256).
        let changed = Double(zip(once, clean).filter { $0 != $1 }.count) / Double(clean.count)
        #expect(abs(changed - 0.1 * 255 / 256) < 0.01)
        #expect(once.allSatisfy { (0..<256).contains($0) })
    }

    static func forwardAndGradients(_ model: TransformerModel<Float>, noise: TrainingNoise?) -> (Double, [Float]) {
        let tokens: [Int32] = [1, 4, 9, 2, 0, 10, 3, 3, 7, 5], targets: [Int32] = [4, 9, 2, 0, 1, 3, 3, 7, 5, 6]
        model.zeroGradients()
        let loss = tokens.withUnsafeBufferPointer { t in
            targets.withUnsafeBufferPointer { model.forward(tokens: t, targets: $0, batch: 2, time: 5, noise: noise) }
        }
        model.backward()
        return (loss, model.gradients.array)
    }

    @Test func zeroRatesAreBitIdenticalToNoNoise() {
        let model = TransformerModel<Float>(config: ModelGradientTests.tinyConfig)
        model.initializeParameters(seed: 3)
        let clean = Self.forwardAndGradients(model, noise: nil)
        let zero = Self.forwardAndGradients(model, noise: TrainingNoise(seed: 77))
        #expect(clean.0 == zero.0 && clean.1 == zero.1)
    }

    @Test func theMaskedPathWithNothingDroppedIsTheCleanNetwork() {
        // Rates so small that no unit is dropped still route every branch and the attention
        // through the masked code, which must then compute what the clean path does.
        let model = ModelGradientTests.perturbedModel()
        let clean = RegularizationGradientTests.loss(model, noise: nil)
        let masked = RegularizationGradientTests.loss(
            model, noise: TrainingNoise(dropout: 1e-15, attentionDropout: 1e-15, stochasticDepth: 1e-15, seed: 2))
        #expect(abs(clean - masked) < 1e-12)
    }

    @Test func evaluationAndValidationIgnoreTheNoise() throws {
        var settings = CheckpointTests.settings()
        let plain = try TrainingRun(settings: settings, dataset: try CheckpointTests.dataset())
        settings.regularization = RegularizationSettings(dropout: 0.3, attentionDropout: 0.3, stochasticDepth: 0.3, byteCorruption: 0.3)
        let regularized = try TrainingRun(settings: settings, dataset: try CheckpointTests.dataset())
        let plainLoss = plain.computeGradients(), noisyLoss = regularized.computeGradients()
        #expect(plainLoss != noisyLoss, "the training pass is noisy")
        #expect(plain.validationLoss() == regularized.validationLoss(), "validation runs the deterministic network")
        let bytes = Array("To be, or not to be, that is".utf8)
        let plainScore = try Evaluation.score(model: plain.model, bytes: bytes, context: 8)
        #expect(try Evaluation.score(model: regularized.model, bytes: bytes, context: 8) == plainScore)
    }

    @Test func lanesDrawTheMasksOfTheWholeBatch() throws {
        var settings = CheckpointTests.settings()
        settings.regularization = RegularizationSettings(dropout: 0.2, attentionDropout: 0.2, stochasticDepth: 0.3, byteCorruption: 0.1)
        let oneLane = try TrainingRun(settings: settings, dataset: try CheckpointTests.dataset())
        let twoLanes = try TrainingRun(settings: settings, dataset: try CheckpointTests.dataset())
        twoLanes.lanes = 2
        let loss = oneLane.computeGradients(), laneLoss = twoLanes.computeGradients()
        #expect(abs(loss - laneLoss) < 1e-5)
        for (a, b) in zip(oneLane.model.gradients.array, twoLanes.model.gradients.array) { #expect(abs(a - b) < 1e-5) }
    }

    @Test func regularizationSettingsDecodeAndRefuseRatesOutsideTheUnitInterval() throws {
        let url = try SettingsAndDataTests.settingsFile("""
            {"learning_rate": 0.1, "regularization": {"dropout": 0.1, "attention_dropout": 0.05, "stochastic_depth": 0.2, "byte_corruption": 0.03}}
            """)
        let settings = try TrainingSettings.load(from: url)
        #expect(settings.regularization == RegularizationSettings(dropout: 0.1, attentionDropout: 0.05, stochasticDepth: 0.2, byteCorruption: 0.03))
        #expect(try TrainingSettings.load(from: SettingsAndDataTests.settingsFile(#"{"learning_rate": 0.1}"#)).regularization.isEnabled == false)
        let typo = try SettingsAndDataTests.settingsFile(#"{"learning_rate": 0.1, "regularization": {"drop_out": 0.1}}"#)
        #expect(throws: TrainingSettings.Error.self) { try TrainingSettings.load(from: typo) }
        var bad = settings
        bad.regularization.stochasticDepth = 1
        let error = try #require(throws: TrainingSettings.Error.self) { try bad.validate() }
        #expect(error.description == "regularization.stochastic_depth must be in [0, 1), got 1.0")
    }
}
