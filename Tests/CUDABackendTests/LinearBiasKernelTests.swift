@testable import CUDABackend
import CUDAEmulation
import Testing
@testable import Trainer

/// The bias kernels against Linear.swift, on N = 74 rows of O = 259 columns.
@Suite(.enabled(if: EmulationSource.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
struct LinearBiasKernelTests {
    let n = 74, inputs = 5, outputs = 259

    @Test func broadcastSetsOrAddsTheBias() throws {
        let emulator = try KernelEmulator.shared.get()
        var generator = SeededGenerator(seed: 31)
        let b = EmulatedBuffer(randomFloats(outputs, generator: &generator))
        let initial = randomFloats(n * outputs, generator: &generator)
        let set = EmulatedBuffer<Float>.poisoned(count: n * outputs)
        try emulator.launch("cohort_bias_broadcast", .biasBroadcast(rows: n, columns: outputs), set, b, Int32(n), Int32(outputs), Int32(0))
        let added = EmulatedBuffer(initial)
        try emulator.launch("cohort_bias_broadcast", .biasBroadcast(rows: n, columns: outputs), added, b, Int32(n), Int32(outputs), Int32(1))
        let bias = b.array
        #expect(firstBitDifference(set.array, (0..<(n * outputs)).map { bias[$0 % outputs] }) == nil)
        #expect(firstBitDifference(added.array, (0..<(n * outputs)).map { initial[$0] + bias[$0 % outputs] }) == nil)
    }
}
