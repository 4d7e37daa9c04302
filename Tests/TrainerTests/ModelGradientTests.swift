import Testing
@testable import Trainer

@Suite struct ModelGradientTests {
    /// A model small enough to perturb every parameter, with a non-power-of-two head count.
    static let tinyConfig = ModelConfig(vocabularySize: 11, hiddenSize: 6, layerCount: 2, headCount: 3, contextLength: 5)

    static func perturbedModel(config: ModelConfig = tinyConfig) -> TransformerModel<Double> {
        let model = TransformerModel<Double>(config: config)
        model.initializeParameters(seed: 7)
        // Move LayerNorm scales and biases away from 1 and 0 so that every parameter matters.
        var generator = SeededGenerator(seed: 8)
        for index in 0..<model.parameters.count { model.parameters[index] += 0.1 * generator.nextGaussian() }
        return model
    }

    /// The worst error of the whole model's backward against finite differences of its loss on
    /// two short sequences (one target masked).
    static func worstGradientError(of model: TransformerModel<Double>) -> Double {
        let tokens: [Int32] = [1, 4, 9, 2, 0, 10, 3, 3, 7, 5]
        let targets: [Int32] = [4, 9, 2, 0, -1, 3, 3, 7, 5, 6]
        func loss() -> Double {
            tokens.withUnsafeBufferPointer { t in
                targets.withUnsafeBufferPointer { model.forward(tokens: t, targets: $0, batch: 2, time: 5) }
            }
        }
        model.zeroGradients()
        _ = loss()
        model.backward()
        return GradientCheck.worstError(
            values: model.parameters.base, count: model.parameters.count, analytic: model.gradients.array, loss: loss)
    }

    @Test func wholeModelBackwardMatchesFiniteDifferences() {
        #expect(Self.worstGradientError(of: Self.perturbedModel()) < 1e-6)
    }

    @Test func backwardAccumulatesAcrossMicroBatches() {
        let model = Self.perturbedModel()
        let tokens: [Int32] = [1, 2, 3, 4, 5]
        let targets: [Int32] = [2, 3, 4, 5, 6]
        func step() {
            tokens.withUnsafeBufferPointer { t in
                targets.withUnsafeBufferPointer { _ = model.forward(tokens: t, targets: $0, batch: 1, time: 5) }
            }
            model.backward()
        }
        model.zeroGradients()
        step()
        let once = model.gradients.array
        step()
        for (twice, single) in zip(model.gradients.array, once) { #expect(abs(twice - 2 * single) < 1e-12) }
    }
}
