@testable import CUDABackend
import Testing
@testable import Trainer

/// The GELU kernels against GELU.swift, over 74·259 elements.
@Suite(.enabled(if: KernelEmulator.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
struct GELUKernelTests {
    let count = 74 * 259

    @Test func forwardMatchesTheCPU() throws {
        let emulator = try KernelEmulator.shared.get()
        var generator = SeededGenerator(seed: 41)
        let x = EmulatedBuffer(randomFloats(count, in: -5...5, generator: &generator))
        let expected = EmulatedBuffer<Float>.poisoned(count: count)
        withExtendedLifetime((x, expected)) { GELU.forward(output: expected.base, input: x.pointer, count: count) }
        let out = EmulatedBuffer<Float>.poisoned(count: count)
        try emulator.launch("cohort_gelu_forward", .geluForward(count: count), out, x, Int64(count))
        #expect(out.isFullyWritten)
        #expect(relativeError(out.array, expected.array) <= float32Tolerance)
    }

    @Test func backwardMatchesTheCPU() throws {
        let emulator = try KernelEmulator.shared.get()
        var generator = SeededGenerator(seed: 42)
        let x = EmulatedBuffer(randomFloats(count, in: -5...5, generator: &generator))
        let outGradient = randomFloats(count, generator: &generator)
        let expected = EmulatedBuffer(outGradient)
        withExtendedLifetime((x, expected)) { GELU.backward(gradient: expected.base, input: x.pointer, count: count) }
        let gradient = EmulatedBuffer(outGradient)
        try emulator.launch("cohort_gelu_backward", .geluBackward(count: count), gradient, x, Int64(count))
        #expect(relativeError(gradient.array, expected.array) <= float32Tolerance)
    }
}
