import Testing
@testable import Experiments
@testable import Trainer

@Suite struct HessianPowerIterationTests {
    /// L(x) = ½ xᵀAx with A = Q diag(λ) Qᵀ, Q a Householder reflection, so that the eigenvectors
    /// are not the coordinate axes; ∇L = Ax.
    static func quadratic(eigenvalues: [Double]) -> (matrix: [[Double]], gradient: ([Double]) -> [Double]) {
        let n = eigenvalues.count
        let u = HessianPowerIteration.normalised((0..<n).map { Double($0 % 3) - 0.7 })
        let q = (0..<n).map { i in (0..<n).map { j in (i == j ? 1 : 0) - 2 * u[i] * u[j] } }
        let a = (0..<n).map { i in (0..<n).map { j in (0..<n).reduce(0) { $0 + q[i][$1] * eigenvalues[$1] * q[j][$1] } } }
        return (a, { x in a.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } } })
    }

    @Test func findsTheTopEigenvalueOfAQuadratic() {
        let (_, gradient) = Self.quadratic(eigenvalues: [9, 4, 2.5, 1, 0.5, -0.3, 0.1, 3])
        let point = [0.3, -1, 2, 0.5, 0, 1, -0.2, 0.7]
        let estimate = HessianPowerIteration.topEigenvalue(at: point, step: 1e-3, iterations: 60, seed: 7, gradient: gradient)
        #expect(abs(estimate.eigenvalue - 9) < 1e-6)
        #expect(estimate.relativeChange < 1e-6 && estimate.iterations == 60)
    }

    @Test func aNegativeEigenvalueOfLargestMagnitudeIsReportedWithItsSign() {
        let (_, gradient) = Self.quadratic(eigenvalues: [2, -5, 1, 0.5])
        let estimate = HessianPowerIteration.topEigenvalue(at: [1, 1, 1, 1], step: 1e-2, iterations: 80, seed: 3, gradient: gradient)
        #expect(abs(estimate.eigenvalue + 5) < 1e-6)
    }

    /// On the trainer's float64 model the finite-difference product matches the one from a
    /// step ten times smaller: the gradient is smooth enough for ε = 1e-3.
    @Test func theModelsHessianVectorProductDoesNotDependOnTheStep() throws {
        let config = ModelConfig(hiddenSize: 16, layerCount: 1, headCount: 2, contextLength: 8)
        let corpus = Array(String(repeating: "To be, or not to be, that is the question. ", count: 40).utf8)
        let dataset = try TextDataset(name: "hamlet", bytes: corpus, contextLength: 8)
        let probe = SharpnessProbe(config: config, dataset: dataset, batch: 4, seed: 1)
        let model = TransformerModel<Double>(config: config)
        model.initializeParameters(seed: 2)
        let point = model.parameters.array
        var generator = SeededGenerator(seed: 5)
        let direction = HessianPowerIteration.normalised(point.map { _ in generator.nextGaussian() })
        let coarse = HessianPowerIteration.hessianVectorProduct(at: point, direction: direction, step: 1e-3, gradient: probe.gradient)
        let fine = HessianPowerIteration.hessianVectorProduct(at: point, direction: direction, step: 1e-4, gradient: probe.gradient)
        let difference = zip(coarse, fine).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        let norm = HessianPowerIteration.dot(fine, fine).squareRoot()
        #expect(norm > 0 && difference < 1e-4 * norm)
    }
}
