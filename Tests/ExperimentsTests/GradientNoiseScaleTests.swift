import Testing
@testable import Experiments
@testable import Trainer

@Suite struct GradientNoiseScaleTests {
    @Test func exactExpectationsGiveExactlyTheTrueValues() {
        // E|G_B|² = |G|² + tr Σ / B with |G|² = 2 and tr Σ = 48.
        let estimate = GradientNoiseScale(smallBatch: 8, smallNormSquared: 2 + 48.0 / 8, bigBatch: 128, bigNormSquared: 2 + 48.0 / 128)
        #expect(abs(estimate.gradientNormSquared - 2) < 1e-12)
        #expect(abs(estimate.traceCovariance - 48) < 1e-9)
        #expect(abs(estimate.simple! - 24) < 1e-9)
    }

    @Test func noiseThatSwampsTheSignalHasNoNoiseScale() {
        let estimate = GradientNoiseScale(smallBatch: 4, smallNormSquared: 1, bigBatch: 16, bigNormSquared: 0.2)
        #expect(estimate.gradientNormSquared < 0 && estimate.simple == nil)
    }

    /// Per-sample gradients G + ξ with ξ_i ~ N(0, σ_i²): tr Σ = Σ σ_i². Mean squared norms over
    /// many simulated batches, the way `NoiseScaleProbe` measures them, recover |G|² and tr Σ.
    @Test func recoversAKnownNoiseScaleFromSampledGradients() {
        let dimension = 40, small = 4, draws = 16, repeats = 400
        let truth = (0..<dimension).map { 0.2 * Double($0 % 5) - 0.3 }
        let deviations = (0..<dimension).map { 0.5 + 0.05 * Double($0) }
        let gradientNormSquared = truth.reduce(0) { $0 + $1 * $1 }
        let traceCovariance = deviations.reduce(0) { $0 + $1 * $1 }
        var generator = SeededGenerator(seed: 11)
        var smallSum = 0.0, bigSum = 0.0
        for _ in 0..<repeats {
            var big = [Double](repeating: 0, count: dimension)
            for _ in 0..<draws {
                let batch = (0..<dimension).map { index in
                    truth[index] + (0..<small).reduce(0) { sum, _ in sum + deviations[index] * generator.nextGaussian() } / Double(small)
                }
                smallSum += batch.reduce(0) { $0 + $1 * $1 } / Double(draws * repeats)
                for index in 0..<dimension { big[index] += batch[index] / Double(draws) }
            }
            bigSum += big.reduce(0) { $0 + $1 * $1 } / Double(repeats)
        }
        let estimate = GradientNoiseScale(smallBatch: small, smallNormSquared: smallSum, bigBatch: small * draws, bigNormSquared: bigSum)
        #expect(abs(estimate.gradientNormSquared / gradientNormSquared - 1) < 0.05)
        #expect(abs(estimate.traceCovariance / traceCovariance - 1) < 0.05)
        #expect(abs(estimate.simple! / (traceCovariance / gradientNormSquared) - 1) < 0.08)
    }
}
