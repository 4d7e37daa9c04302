@testable import CUDABackend
import CUDAEmulation
import Testing
@testable import Trainer

/// The fused cross-entropy kernel against CrossEntropy.swift, on N = 74 rows of V = 259 logits,
/// every fifth row not scored (target −1).
@Suite(.enabled(if: EmulationSource.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
struct CrossEntropyKernelTests {
    let n = 74, vocabulary = 259

    @Test func lossesAndGradientMatchTheCPU() throws {
        let emulator = try KernelEmulator.shared.get()
        var generator = SeededGenerator(seed: 51)
        let logits = randomFloats(n * vocabulary, in: -6...6, generator: &generator)
        let targets: [Int32] = (0..<n).map { row in
            row % 5 == 2 ? -1 : Int32.random(in: 0..<Int32(vocabulary), using: &generator)
        }
        let expectedGradient = EmulatedBuffer(logits), targetBuffer = EmulatedBuffer(targets)
        let expectedRowLosses = EmulatedBuffer<Double>(repeating: .nan, count: n)
        let expectedLoss = withExtendedLifetime((expectedGradient, targetBuffer, expectedRowLosses)) {
            CrossEntropy.lossAndGradient(
                logits: expectedGradient.base, targets: targetBuffer.base, rows: n, vocabulary: vocabulary,
                rowLosses: expectedRowLosses.base)
        }

        // The host's part: count the scored rows, then sum the row losses in row order.
        let scored = targets.filter { $0 >= 0 }.count
        let gradient = EmulatedBuffer(logits)
        let rowLosses = EmulatedBuffer<Float>.poisoned(count: n)
        try emulator.launch(
            "cohort_cross_entropy", .crossEntropy(rows: n), gradient, targetBuffer, rowLosses, Int32(n),
            Int32(vocabulary), 1 / Float(scored))
        let loss = rowLosses.array.reduce(0.0) { $0 + Double($1) } / Double(scored)

        #expect(rowLosses.isFullyWritten)
        #expect(relativeError(rowLosses.array, expectedRowLosses.array.map { Float($0) }) <= float32Tolerance)
        #expect(abs(loss - expectedLoss) / expectedLoss <= float32Tolerance)
        #expect(relativeError(gradient.array, expectedGradient.array) <= float32Tolerance)
        let g = gradient.array
        for row in 0..<n where targets[row] < 0 {
            #expect(rowLosses.array[row] == 0)
            #expect(g[(row * vocabulary)..<((row + 1) * vocabulary)].allSatisfy { $0 == 0 }, "row \(row) is not scored")
        }
    }
}
