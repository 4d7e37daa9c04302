@testable import CUDABackend
import CUDAEmulation
import Testing
@testable import Trainer

/// The embedding kernels against the model's gather and its backward loop
/// (TransformerModel.computeLogits and backward), with V = 259 and C = 72.
@Suite(.enabled(if: EmulationSource.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
struct EmbeddingKernelTests {
    let vocabulary = 259, c = 72

    /// Tokens drawn from a third of the vocabulary, so that rows repeat and many table rows get
    /// no gradient at all.
    func tokens(rows: Int, generator: inout SeededGenerator) -> [Int32] {
        (0..<rows).map { _ in Int32.random(in: 0..<Int32(vocabulary / 3), using: &generator) * 3 }
    }

    @Test func forwardGathersTheTokensRows() throws {
        let emulator = try KernelEmulator.shared.get()
        var generator = SeededGenerator(seed: 21)
        let n = 74
        let tokens = tokens(rows: n, generator: &generator)
        let table = randomFloats(vocabulary * c, generator: &generator)
        let out = EmulatedBuffer<Float>.poisoned(count: n * c)
        try emulator.launch(
            "cohort_embedding_forward", .embeddingForward(rows: n, channels: c), out, EmulatedBuffer(tokens),
            EmulatedBuffer(table), Int32(n), Int32(c))
        let expected = tokens.flatMap { table[(Int($0) * c)..<(Int($0) * c + c)] }
        #expect(firstBitDifference(out.array, expected) == nil)
    }

    /// N = 300 rows span two of the kernel's 256-token tiles.
    @Test func backwardEqualsTheCPULoopBitForBit() throws {
        let emulator = try KernelEmulator.shared.get()
        var generator = SeededGenerator(seed: 22)
        let n = 300
        let tokens = tokens(rows: n, generator: &generator)
        let initial = randomFloats(vocabulary * c, generator: &generator)
        let outGradient = randomFloats(n * c, generator: &generator)
        var expected = initial
        for row in 0..<n {
            let token = Int(tokens[row])
            for j in 0..<c { expected[token * c + j] += outGradient[row * c + j] }
        }
        let tokenBuffer = EmulatedBuffer(tokens), outGradientBuffer = EmulatedBuffer(outGradient)
        for _ in 0..<2 {
            let tableGradient = EmulatedBuffer(initial)
            try emulator.launch(
                "cohort_embedding_backward", .embeddingBackward(vocabulary: vocabulary), tableGradient, tokenBuffer,
                outGradientBuffer, Int32(n), Int32(vocabulary), Int32(c))
            #expect(firstBitDifference(tableGradient.array, expected) == nil)
        }
    }
}
