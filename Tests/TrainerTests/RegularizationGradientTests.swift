import Testing
@testable import Trainer

/// Dropout, attention dropout and stochastic depth in their deterministic form: a fixed seed
/// draws the same masks in every forward, so the noisy network is one fixed function whose
/// backward must match finite differences like the clean one's.
@Suite struct RegularizationGradientTests {
    static let tokens: [Int32] = [1, 4, 9, 2, 0, 10, 3, 3, 7, 5]
    static let targets: [Int32] = [4, 9, 2, 0, -1, 3, 3, 7, 5, 6]

    static func loss(_ model: TransformerModel<Double>, tokens: [Int32] = tokens, noise: TrainingNoise?) -> Double {
        tokens.withUnsafeBufferPointer { t in
            targets.withUnsafeBufferPointer { model.forward(tokens: t, targets: $0, batch: 2, time: 5, noise: noise) }
        }
    }

    /// Worst backward-against-finite-differences error of the whole model under `noise`.
    static func worstGradientError(noise: TrainingNoise?, tokens: [Int32] = tokens) -> Double {
        let model = ModelGradientTests.perturbedModel()
        model.zeroGradients()
        _ = loss(model, tokens: tokens, noise: noise)
        model.backward()
        return GradientCheck.worstError(
            values: model.parameters.base, count: model.parameters.count, analytic: model.gradients.array
        ) { loss(model, tokens: tokens, noise: noise) }
    }

    static let noises: [(String, TrainingNoise)] = [
        ("embedding and residual dropout", TrainingNoise(dropout: 0.3, seed: 11)),
        ("attention dropout", TrainingNoise(attentionDropout: 0.3, seed: 12)),
        ("stochastic depth", TrainingNoise(stochasticDepth: 0.6, seed: 13)),
        ("all at once", TrainingNoise(dropout: 0.2, attentionDropout: 0.2, stochasticDepth: 0.4, seed: 14)),
    ]

    @Test(arguments: noises)
    func noisyBackwardMatchesFiniteDifferences(name: String, noise: TrainingNoise) {
        let model = ModelGradientTests.perturbedModel()
        #expect(Self.loss(model, noise: noise) != Self.loss(model, noise: nil), "\(name) must change the network")
        #expect(Self.worstGradientError(noise: noise) < 1e-6, "\(name)")
    }

    @Test func byteCorruptedInputsWithCleanTargetsMatchFiniteDifferences() {
        var corrupted = Self.tokens
        corrupted.withUnsafeMutableBufferPointer { ByteCorruption(rate: 0.4, vocabularySize: 11).apply(to: $0, seed: 3) }
        #expect(corrupted != Self.tokens)
        #expect(Self.worstGradientError(noise: nil, tokens: corrupted) < 1e-6)
    }

    @Test func stochasticDepthRisesLinearlyToTheLastBlock() {
        let noise = TrainingNoise(stochasticDepth: 0.4, seed: 1)
        #expect((0..<4).map { noise.depthRate(layer: $0, layerCount: 4) } == [0.1, 0.2, 0.30000000000000004, 0.4])
    }
}
