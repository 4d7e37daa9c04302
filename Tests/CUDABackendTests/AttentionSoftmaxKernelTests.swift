@testable import CUDABackend
import CUDAEmulation
import Testing
@testable import Trainer

/// The attention softmax kernels against CausalAttention itself. Its row functions are private,
/// so each case builds q, k and v that expose them: with head dimension HD = T, q_i = e_i and
/// v_j = e_j, the scores are scale·k_j[i], the probabilities come out unchanged, dp equals the
/// head's slice of dcontext, and dk_j[m] = scale·dscores[m, j].
@Suite(.enabled(if: EmulationSource.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
struct AttentionSoftmaxKernelTests {
    /// B·NH·T rows of T scores, for the kernels, and what CausalAttention makes of them.
    struct Case {
        let batch: Int, time: Int, headCount: Int
        let attention: CausalAttention<Float>
        let qkv: EmulatedBuffer<Float>
        let scale: Float

        init(batch: Int, time: Int, headCount: Int, seed: UInt64) {
            self.batch = batch
            self.time = time
            self.headCount = headCount
            let c = headCount * time
            var generator = SeededGenerator(seed: seed)
            var qkv = [Float](repeating: 0, count: batch * time * 3 * c)
            for b in 0..<batch {
                for t in 0..<time {
                    for h in 0..<headCount {
                        let head = (b * time + t) * 3 * c + h * 3 * time
                        qkv[head + t] = 1
                        for m in 0..<time { qkv[head + time + m] = Float.random(in: -8...8, using: &generator) }
                        qkv[head + 2 * time + t] = 1
                    }
                }
            }
            self.qkv = EmulatedBuffer(qkv)
            scale = 1 / Float(time).squareRoot()
            attention = CausalAttention(
                batch: batch, time: time, channels: c, headCount: headCount,
                slopes: AlibiSlopes.slopes(headCount: headCount).map { Float($0) })
        }

        var rows: Int { batch * headCount * time }
        var channels: Int { headCount * time }

        /// Row r = (pair·T + i) of a [B,NH,T,T] buffer, as `value(pair / NH, pair % NH, i, j)`.
        func scoresLayout(_ value: (Int, Int, Int, Int) -> Float) -> [Float] {
            (0..<(rows * time)).map { index in
                let pair = index / (time * time), i = index / time % time, j = index % time
                return value(pair / headCount, pair % headCount, i, j)
            }
        }

        /// k_j[m] of (batch b, head h) in the fused qkv layout.
        func keyOffset(_ b: Int, _ h: Int, _ j: Int) -> Int { (b * time + j) * 3 * channels + h * 3 * time + time }
    }

    @Test(arguments: [(2, 37, 6), (1, 300, 2)])
    func forwardAndBackwardMatchCausalAttention(batch: Int, time: Int, headCount: Int) throws {
        let emulator = try KernelEmulator.shared.get()
        let test = Case(batch: batch, time: time, headCount: headCount, seed: UInt64(time))
        let n = test.rows * time
        let context = EmulatedBuffer<Float>.poisoned(count: batch * time * test.channels)
        let probabilities = EmulatedBuffer<Float>.poisoned(count: n)
        withExtendedLifetime((context, probabilities, test.qkv)) {
            test.attention.forward(context: context.base, probabilities: probabilities.base, qkv: test.qkv.pointer)
        }

        // Every score, above the diagonal too, is nonzero: the kernel must write the causal zeros.
        let qkv = test.qkv.array
        let scores = EmulatedBuffer(test.scoresLayout { b, h, i, j in test.scale * qkv[test.keyOffset(b, h, j) + i] })
        let slopes = EmulatedBuffer(test.attention.slopes)
        try emulator.launch(
            "cohort_attention_softmax_forward", .attentionSoftmaxForward(rows: test.rows), scores, slopes,
            Int32(test.rows), Int32(time), Int32(headCount))
        let p = scores.array
        #expect(relativeError(p, probabilities.array) <= float32Tolerance)
        #expect((0..<n).allSatisfy { index in index % time <= index / time % time || p[index] == 0 })

        var generator = SeededGenerator(seed: 99)
        let contextGradient = randomFloats(batch * time * test.channels, generator: &generator)
        let contextGradientBuffer = EmulatedBuffer(contextGradient)
        let qkvGradient = EmulatedBuffer<Float>.poisoned(count: test.qkv.count)
        let scratch = EmulatedBuffer<Float>.poisoned(count: n)
        withExtendedLifetime((qkvGradient, contextGradientBuffer, probabilities, test.qkv, scratch)) {
            test.attention.backward(
                qkvGradient: qkvGradient.base, contextGradient: contextGradientBuffer.pointer,
                probabilities: probabilities.pointer, qkv: test.qkv.pointer, scratch: scratch.base)
        }
        let dqkv = qkvGradient.array
        let expected = test.scoresLayout { b, h, i, j in dqkv[test.keyOffset(b, h, j) + i] / test.scale }
        let dp = EmulatedBuffer(test.scoresLayout { b, h, i, j in
            contextGradient[(b * time + i) * test.channels + h * time + j]
        })
        try emulator.launch(
            "cohort_attention_softmax_backward", .attentionSoftmaxBackward(rows: test.rows), dp, probabilities,
            Int32(test.rows), Int32(time))
        let dscores = dp.array
        #expect(relativeError(dscores, expected) <= float32Tolerance)
        #expect((0..<n).allSatisfy { index in index % time <= index / time % time || dscores[index] == 0 })
    }
}
