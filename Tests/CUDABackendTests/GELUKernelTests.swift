@testable import CUDABackend
import CUDAEmulation
import Testing
@testable import Trainer

/// The GELU kernels against GELU.swift, over 74·259 elements.
@Suite(.enabled(if: EmulationSource.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
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

    /// A grid far smaller than the count: each thread strides over many elements, as it does on
    /// the device once the count passes KernelLaunch's cap on grid-stride blocks.
    @Test func aSmallGridStridesOverEveryElement() throws {
        let emulator = try KernelEmulator.shared.get()
        var generator = SeededGenerator(seed: 43)
        let x = EmulatedBuffer(randomFloats(count, in: -5...5, generator: &generator))
        let expected = EmulatedBuffer<Float>.poisoned(count: count)
        try emulator.launch("cohort_gelu_forward", .geluForward(count: count), expected, x, Int64(count))
        let out = EmulatedBuffer<Float>.poisoned(count: count)
        let smallGrid = KernelLaunch(grid: .init(x: 3), block: .init(x: 64))
        try emulator.launch("cohort_gelu_forward", smallGrid, out, x, Int64(count))
        #expect(firstBitDifference(out.array, expected.array) == nil)
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
