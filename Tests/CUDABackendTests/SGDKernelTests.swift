@testable import CUDABackend
import CUDAEmulation
import Testing
@testable import Trainer

/// The optimizer kernels against SGDOptimizer, on the parameter arena of a tiny model.
@Suite(.enabled(if: EmulationSource.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
struct SGDKernelTests {
    let layout = ParameterLayout(
        config: ModelConfig(vocabularySize: 11, hiddenSize: 6, layerCount: 2, headCount: 3, contextLength: 5))

    /// Two steps, with clipping and weight decay active, give the parameters and momentum of
    /// SGDOptimizer.apply bit for bit: the same operations in the same order per element. The
    /// clip scale comes from the CPU's norm, so that only the kernels are compared.
    @Test(arguments: [false, true])
    func stepsEqualTheCPUBitForBit(nesterov: Bool) throws {
        let emulator = try KernelEmulator.shared.get()
        let count = layout.parameterCount
        var generator = SeededGenerator(seed: nesterov ? 61 : 62)
        let settings = SGDSettings(momentum: 0.9, nesterov: nesterov, weightDecay: 0.1, gradientClipNorm: 0.5)
        let rate = 0.05
        let optimizer = SGDOptimizer(settings: settings, layout: layout)
        let initial = randomFloats(count, generator: &generator)
        let cpuParameters = flatBuffer(initial)
        let parameters = EmulatedBuffer(initial)
        // Momentum carried over from earlier steps, so that μ·v matters from the first step.
        let initialVelocity = randomFloats(count, in: -0.1...0.1, generator: &generator)
        optimizer.momentumBuffer.base.update(from: initialVelocity, count: count)
        let velocity = EmulatedBuffer(initialVelocity)

        for _ in 0..<2 {
            let gradients = flatBuffer(randomFloats(count, generator: &generator))
            let norm = optimizer.apply(gradients: gradients, to: cpuParameters, rate: rate)
            #expect(norm > settings.gradientClipNorm, "the test means to clip")

            let lr = Float(rate)
            let keep = 1 - lr * Float(settings.weightDecay)
            for tensor in layout.tensors where tensor.decays {
                try emulator.launch(
                    "cohort_scale", .scale(count: tensor.count), parameters.base + tensor.offset, Int64(tensor.count), keep)
            }
            let gradientScale = Float(settings.gradientClipNorm / norm)
            try emulator.launch(
                "cohort_sgd_momentum", .sgdMomentum(count: count), parameters, velocity, EmulatedBuffer(gradients.array),
                Int64(count), lr, Float(settings.momentum), gradientScale, Int32(nesterov ? 1 : 0))
        }
        #expect(firstBitDifference(parameters.array, cpuParameters.array) == nil)
        #expect(firstBitDifference(velocity.array, optimizer.momentumBuffer.array) == nil)
    }

    /// The partial sums of squares add up to SGDOptimizer.norm's, and the same partials come
    /// back on every launch: the grid is fixed, so each element falls in the same partial.
    @Test func sumOfSquaresIsTheCPUNormAndDeterministic() throws {
        let emulator = try KernelEmulator.shared.get()
        var generator = SeededGenerator(seed: 63)
        let count = 100_003
        let values = flatBuffer(randomFloats(count, generator: &generator))
        let input = EmulatedBuffer(values.array)
        var runs: [[UInt64]] = []
        for _ in 0..<2 {
            let partials = EmulatedBuffer<Double>(repeating: .nan, count: KernelLaunch.sumSquaresPartialCount)
            try emulator.launch("cohort_sum_squares_partials", .sumSquaresPartials, partials, input, Int64(count))
            #expect(!partials.array.contains { $0.isNaN })
            let norm = partials.array.reduce(0, +).squareRoot()
            let expected = SGDOptimizer.norm(of: values)
            #expect(abs(norm - expected) / expected <= 1e-12)
            runs.append(partials.array.map(\.bitPattern))
        }
        #expect(runs[0] == runs[1])
    }
}
