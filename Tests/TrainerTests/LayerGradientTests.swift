import Testing
@testable import Trainer

/// Every layer's backward against float64 finite differences of the loss Σ out·dout.
@Suite struct LayerGradientTests {
    @Test func linearBackwardMatchesFiniteDifferences() {
        var generator = SeededGenerator(seed: 1)
        let n = 3, i = 4, o = 5
        let x = GradientCheck.randomBuffer(n * i, generator: &generator)
        let w = GradientCheck.randomBuffer(o * i, generator: &generator)
        let b = GradientCheck.randomBuffer(o, generator: &generator)
        let dout = GradientCheck.randomBuffer(n * o, generator: &generator)
        let out = FlatBuffer<Double>(count: n * o)
        func loss() -> Double {
            Linear.forward(output: out.base, input: x.base, weight: w.base, bias: b.base, rows: n, inputs: i, outputs: o)
            return GradientCheck.dot(out.base, dout.base, n * o)
        }
        let dx = FlatBuffer<Double>(count: n * i), dw = FlatBuffer<Double>(count: o * i), db = FlatBuffer<Double>(count: o)
        Linear.backward(inputGradient: dx.base, weightGradient: dw.base, biasGradient: db.base, outputGradient: dout.base,
                        input: x.base, weight: w.base, rows: n, inputs: i, outputs: o)
        #expect(GradientCheck.worstError(values: x.base, count: x.count, analytic: dx.array, loss: loss) < 1e-7)
        #expect(GradientCheck.worstError(values: w.base, count: w.count, analytic: dw.array, loss: loss) < 1e-7)
        #expect(GradientCheck.worstError(values: b.base, count: b.count, analytic: db.array, loss: loss) < 1e-7)
    }

    @Test func linearForwardAccumulatesOntoTheResidual() {
        let x: [Double] = [1, 2], w: [Double] = [3, 4, 5, 6], b: [Double] = [0.5, -0.5]
        var out: [Double] = [10, 20]
        Linear.forward(output: &out, input: x, weight: w, bias: b, rows: 1, inputs: 2, outputs: 2, accumulate: true)
        let expected: [Double] = [21.5, 36.5]
        #expect(out == expected)
    }

    @Test func layerNormBackwardMatchesFiniteDifferences() {
        var generator = SeededGenerator(seed: 2)
        let n = 3, c = 7
        let x = GradientCheck.randomBuffer(n * c, generator: &generator, scale: 2)
        let w = GradientCheck.randomBuffer(c, generator: &generator)
        let b = GradientCheck.randomBuffer(c, generator: &generator)
        let dout = GradientCheck.randomBuffer(n * c, generator: &generator)
        let out = FlatBuffer<Double>(count: n * c), mean = FlatBuffer<Double>(count: n), rstd = FlatBuffer<Double>(count: n)
        func loss() -> Double {
            LayerNorm.forward(output: out.base, mean: mean.base, reciprocalStandardDeviation: rstd.base, input: x.base,
                              weight: w.base, bias: b.base, rows: n, channels: c, epsilon: 1e-5)
            return GradientCheck.dot(out.base, dout.base, n * c)
        }
        _ = loss()
        let dx = FlatBuffer<Double>(count: n * c), dw = FlatBuffer<Double>(count: c), db = FlatBuffer<Double>(count: c)
        LayerNorm.backward(inputGradient: dx.base, weightGradient: dw.base, biasGradient: db.base, outputGradient: dout.base,
                           input: x.base, weight: w.base, mean: mean.base, reciprocalStandardDeviation: rstd.base,
                           rows: n, channels: c)
        #expect(GradientCheck.worstError(values: x.base, count: x.count, analytic: dx.array, loss: loss) < 1e-7)
        #expect(GradientCheck.worstError(values: w.base, count: w.count, analytic: dw.array, loss: loss) < 1e-7)
        #expect(GradientCheck.worstError(values: b.base, count: b.count, analytic: db.array, loss: loss) < 1e-7)
    }

    @Test func geluBackwardMatchesFiniteDifferences() {
        var generator = SeededGenerator(seed: 3)
        let count = 40
        let x = GradientCheck.randomBuffer(count, generator: &generator, scale: 3)
        let dout = GradientCheck.randomBuffer(count, generator: &generator)
        let out = FlatBuffer<Double>(count: count)
        func loss() -> Double {
            GELU.forward(output: out.base, input: x.base, count: count)
            return GradientCheck.dot(out.base, dout.base, count)
        }
        let dx = FlatBuffer<Double>(count: count)
        dx.copy(from: dout)
        GELU.backward(gradient: dx.base, input: x.base, count: count)
        #expect(GradientCheck.worstError(values: x.base, count: count, analytic: dx.array, loss: loss) < 1e-7)
    }

    @Test func geluMatchesTheTanhFormulaAtKnownPoints() {
        // gelu(1) with the tanh approximation = 0.5·(1 + tanh(0.7978845608·1.044715)).
        #expect(abs(GELU.value(1.0) - 0.841_191_990_607_477) < 1e-12)
        #expect(GELU.value(0.0) == 0)
        #expect(abs(GELU.value(-3.0) - (-0.003_637_392_081_117_9)) < 1e-12)
    }

    @Test(arguments: [(headCount: 3, time: 5), (headCount: 2, time: 1), (headCount: 4, time: 6)])
    func attentionBackwardMatchesFiniteDifferences(headCount: Int, time: Int) {
        var generator = SeededGenerator(seed: 4)
        let batch = 2, channels = headCount * 2
        let attention = CausalAttention<Double>(
            batch: batch, time: time, channels: channels, headCount: headCount,
            slopes: AlibiSlopes.slopes(headCount: headCount))
        let qkv = GradientCheck.randomBuffer(batch * time * 3 * channels, generator: &generator)
        let dcontext = GradientCheck.randomBuffer(batch * time * channels, generator: &generator)
        let context = FlatBuffer<Double>(count: batch * time * channels)
        let probabilities = FlatBuffer<Double>(count: batch * headCount * time * time)
        func loss() -> Double {
            attention.forward(context: context.base, probabilities: probabilities.base, qkv: qkv.base)
            return GradientCheck.dot(context.base, dcontext.base, context.count)
        }
        _ = loss()
        let dqkv = FlatBuffer<Double>(count: qkv.count), scratch = FlatBuffer<Double>(count: batch * headCount * time * time)
        attention.backward(qkvGradient: dqkv.base, contextGradient: dcontext.base, probabilities: probabilities.base,
                           qkv: qkv.base, scratch: scratch.base)
        #expect(GradientCheck.worstError(values: qkv.base, count: qkv.count, analytic: dqkv.array, loss: loss) < 1e-7)
    }

    @Test func attentionNeverLooksAtLaterPositions() {
        var generator = SeededGenerator(seed: 5)
        let time = 4, channels = 4
        let attention = CausalAttention<Double>(batch: 1, time: time, channels: channels, headCount: 2,
                                                slopes: AlibiSlopes.slopes(headCount: 2))
        let qkv = GradientCheck.randomBuffer(time * 3 * channels, generator: &generator)
        let context = FlatBuffer<Double>(count: time * channels)
        let probabilities = FlatBuffer<Double>(count: 2 * time * time)
        attention.forward(context: context.base, probabilities: probabilities.base, qkv: qkv.base)
        let before = Array(context.array.prefix(2 * channels))
        for index in (2 * 3 * channels)..<qkv.count { qkv[index] += 10 }
        attention.forward(context: context.base, probabilities: probabilities.base, qkv: qkv.base)
        #expect(Array(context.array.prefix(2 * channels)) == before)
    }

    @Test func crossEntropyGradientMatchesFiniteDifferences() {
        var generator = SeededGenerator(seed: 6)
        let n = 4, v = 6
        let logits = GradientCheck.randomBuffer(n * v, generator: &generator, scale: 2)
        let targets: [Int32] = [1, 5, -1, 0]
        let scratch = FlatBuffer<Double>(count: n * v), rowLosses = FlatBuffer<Double>(count: n)
        func loss() -> Double {
            scratch.copy(from: logits)
            return CrossEntropy.lossAndGradient(logits: scratch.base, targets: targets, rows: n, vocabulary: v, rowLosses: rowLosses.base)
        }
        scratch.copy(from: logits)
        _ = CrossEntropy.lossAndGradient(logits: scratch.base, targets: targets, rows: n, vocabulary: v, rowLosses: rowLosses.base)
        let analytic = scratch.array
        #expect(analytic[2 * v..<3 * v].allSatisfy { $0 == 0 })
        #expect(GradientCheck.worstError(values: logits.base, count: logits.count, analytic: analytic, loss: loss) < 1e-7)
    }
}
