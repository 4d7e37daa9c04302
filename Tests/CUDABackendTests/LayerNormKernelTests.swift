@testable import CUDABackend
import CUDAEmulation
import Testing
@testable import Trainer

/// The LayerNorm kernels against LayerNorm.swift, on N = 74 rows of C = 72 channels (neither a
/// multiple of the warp).
@Suite(.enabled(if: EmulationSource.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
struct LayerNormKernelTests {
    let n = 74, c = 72
    let epsilon: Float = 1e-5

    /// x[N,C], w[C], b[C], dout[N,C], and the accumulators dx[N,C], dw[C], db[C] already holding
    /// values (the backward passes add to them).
    struct Inputs {
        let x, w, b, dout, dx, dw, db: [Float]
    }

    func inputs() -> Inputs {
        var generator = SeededGenerator(seed: 11)
        return Inputs(
            x: randomFloats(n * c, in: -3...3, generator: &generator),
            w: randomFloats(c, in: 0.5...1.5, generator: &generator),
            b: randomFloats(c, generator: &generator),
            dout: randomFloats(n * c, generator: &generator),
            dx: randomFloats(n * c, generator: &generator),
            dw: randomFloats(c, generator: &generator),
            db: randomFloats(c, generator: &generator))
    }

    /// out, mean and rstd from the CPU's forward.
    func cpuForward(_ inputs: Inputs) -> (out: [Float], mean: [Float], rstd: [Float]) {
        let x = EmulatedBuffer(inputs.x), w = EmulatedBuffer(inputs.w), b = EmulatedBuffer(inputs.b)
        let out = EmulatedBuffer<Float>.poisoned(count: n * c)
        let mean = EmulatedBuffer<Float>.poisoned(count: n), rstd = EmulatedBuffer<Float>.poisoned(count: n)
        withExtendedLifetime((x, w, b, out, mean, rstd)) {
            LayerNorm.forward(
                output: out.base, mean: mean.base, reciprocalStandardDeviation: rstd.base, input: x.pointer,
                weight: w.pointer, bias: b.pointer, rows: n, channels: c, epsilon: epsilon)
        }
        return (out.array, mean.array, rstd.array)
    }

    /// dx, dw and db from the CPU's backward, given the forward's mean and rstd.
    func cpuBackward(_ inputs: Inputs, mean: [Float], rstd: [Float]) -> (dx: [Float], dw: [Float], db: [Float]) {
        let dx = EmulatedBuffer(inputs.dx), dw = EmulatedBuffer(inputs.dw), db = EmulatedBuffer(inputs.db)
        let dout = EmulatedBuffer(inputs.dout), x = EmulatedBuffer(inputs.x), w = EmulatedBuffer(inputs.w)
        let meanBuffer = EmulatedBuffer(mean), rstdBuffer = EmulatedBuffer(rstd)
        withExtendedLifetime((dx, dw, db, dout, x, w, meanBuffer, rstdBuffer)) {
            LayerNorm.backward(
                inputGradient: dx.base, weightGradient: dw.base, biasGradient: db.base, outputGradient: dout.pointer,
                input: x.pointer, weight: w.pointer, mean: meanBuffer.pointer,
                reciprocalStandardDeviation: rstdBuffer.pointer, rows: n, channels: c)
        }
        return (dx.array, dw.array, db.array)
    }

    @Test func forwardMatchesTheCPU() throws {
        let emulator = try KernelEmulator.shared.get()
        let inputs = inputs()
        let expected = cpuForward(inputs)
        let out = EmulatedBuffer<Float>.poisoned(count: n * c)
        let mean = EmulatedBuffer<Float>.poisoned(count: n), rstd = EmulatedBuffer<Float>.poisoned(count: n)
        try emulator.launch(
            "cohort_layernorm_forward", .layerNormForward(rows: n), out, mean, rstd, EmulatedBuffer(inputs.x),
            EmulatedBuffer(inputs.w), EmulatedBuffer(inputs.b), Int32(n), Int32(c), epsilon)
        #expect(out.isFullyWritten && mean.isFullyWritten && rstd.isFullyWritten)
        #expect(relativeError(out.array, expected.out) <= float32Tolerance)
        #expect(relativeError(mean.array, expected.mean) <= float32Tolerance)
        #expect(relativeError(rstd.array, expected.rstd) <= float32Tolerance)
    }

    @Test func inputGradientAccumulatesLikeTheCPU() throws {
        let emulator = try KernelEmulator.shared.get()
        let inputs = inputs()
        let forward = cpuForward(inputs)
        let expected = cpuBackward(inputs, mean: forward.mean, rstd: forward.rstd)
        let dx = EmulatedBuffer(inputs.dx)
        try emulator.launch(
            "cohort_layernorm_backward_input", .layerNormBackwardInput(rows: n), dx, EmulatedBuffer(inputs.dout),
            EmulatedBuffer(inputs.x), EmulatedBuffer(inputs.w), EmulatedBuffer(forward.mean), EmulatedBuffer(forward.rstd),
            Int32(n), Int32(c))
        #expect(relativeError(dx.array, expected.dx) <= float32Tolerance)
    }

    /// The terms whose column sums are dw's increment: the CPU's product, bit for bit, so that
    /// adding them up by column in row order gives the CPU's dw exactly.
    @Test func weightGradientTermsAreTheCPUsProducts() throws {
        let emulator = try KernelEmulator.shared.get()
        let inputs = inputs()
        let forward = cpuForward(inputs)
        let expected = cpuBackward(inputs, mean: forward.mean, rstd: forward.rstd)
        let terms = EmulatedBuffer<Float>.poisoned(count: n * c)
        try emulator.launch(
            "cohort_layernorm_weight_gradient_terms", .layerNormWeightGradientTerms(rows: n, channels: c), terms,
            EmulatedBuffer(inputs.dout), EmulatedBuffer(inputs.x), EmulatedBuffer(forward.mean), EmulatedBuffer(forward.rstd),
            Int32(n), Int32(c))
        #expect(terms.isFullyWritten)
        var dw = inputs.dw
        let values = terms.array
        for row in 0..<n {
            for j in 0..<c { dw[j] += values[row * c + j] }
        }
        #expect(firstBitDifference(dw, expected.dw) == nil)
    }
}
