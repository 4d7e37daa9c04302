import Trainer

/// `TransformerModel`'s forward, loss and backward on a GPU: the same parameter arena (one
/// device buffer laid out by `ParameterLayout`), the same layers in the same order, matrix
/// products through cuBLAS and the rest through the kernel units. Backward accumulates into
/// `gradients` (zero them once per step), as on the CPU.
///
/// ALiBi only (the controls' absolute positions stay on the CPU), and no dropout or stochastic
/// depth: `check(_:)` says so before anything is allocated.
///
/// Legend: B batch, T time, C channels, V vocabulary, NH heads, HD = C/NH, N = B·T rows.
public final class CUDATransformer {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let gpu: CUDAContext
    public let parameters: DeviceBuffer<Float>
    public let gradients: DeviceBuffer<Float>
    let slopes: DeviceBuffer<Float>
    private var workspace: CUDAWorkspace?
    private var forwardIsCurrent = false

    /// Why `config` cannot train on the GPU, or nil when it can.
    public static func problem(with config: ModelConfig) -> String? {
        config.positionEncoding == .alibi ? nil
            : "the CUDA trainer runs ALiBi models only, not \(config.positionEncoding.rawValue) positions"
    }

    public init(config: ModelConfig, on gpu: CUDAContext) throws(CUDAUnavailable) {
        if let problem = Self.problem(with: config) { throw CUDAUnavailable(problem) }
        self.config = config
        self.gpu = gpu
        layout = ParameterLayout(config: config)
        parameters = try gpu.buffer(count: layout.parameterCount)
        gradients = try gpu.buffer(count: layout.parameterCount)
        slopes = try gpu.buffer(count: config.headCount)
        let values = AlibiSlopes.slopes(headCount: config.headCount).map { Float($0) }
        try values.withUnsafeBufferPointer { (values) throws(CUDAUnavailable) in try slopes.upload(values) }
        try gradients.zero()
    }

    private func p(_ offset: Int) -> UInt64 { parameters.address(at: offset) }
    private func g(_ offset: Int) -> UInt64 { gradients.address(at: offset) }

    public func upload(parameters host: FlatBuffer<Float>) throws(CUDAUnavailable) {
        precondition(host.count == layout.parameterCount, "\(host.count) parameters for an arena of \(layout.parameterCount)")
        try parameters.upload(UnsafeBufferPointer(start: host.base, count: host.count))
    }

    public func download(gradients host: FlatBuffer<Float>) throws(CUDAUnavailable) {
        precondition(host.count == layout.parameterCount, "\(host.count) gradients for an arena of \(layout.parameterCount)")
        try gradients.download(into: UnsafeMutableBufferPointer(start: host.base, count: host.count))
    }

    public func zeroGradients() throws(CUDAUnavailable) { try gradients.zero() }

    /// The mean cross-entropy of tokens[B·T] against targets[B·T] (a negative target is not
    /// scored), keeping every activation and dloss/dlogits for `backward()`.
    @discardableResult
    public func forward(tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                        batch: Int, time: Int) throws(CUDAUnavailable) -> Double {
        precondition(tokens.count == batch * time && targets.count == batch * time,
                     "forward needs \(batch)×\(time) tokens and targets, got \(tokens.count) and \(targets.count)")
        let w = try prepareWorkspace(batch: batch, time: time)
        let n = batch * time, v = config.vocabularySize
        for token in tokens {
            precondition(token >= 0 && Int(token) < v, "token \(token) is outside the vocabulary of \(v)")
        }
        try w.tokens.upload(tokens)
        try w.targets.upload(targets)
        try computeLogits(workspace: w)
        let scored = targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        forwardIsCurrent = true
        try gpu.crossEntropy(logits: w.logits.address, targets: w.targets.address, rowLosses: w.rowLosses.address,
                             rows: n, vocabulary: v, inverseScored: scored > 0 ? 1 / Float(scored) : 0)
        guard scored > 0 else { return 0 }
        var losses = [Float](repeating: 0, count: n)
        try losses.withUnsafeMutableBufferPointer { (losses) throws(CUDAUnavailable) in try w.rowLosses.download(into: losses) }
        // Row order, in float64: the CPU trainer's sum.
        var total = 0.0
        for loss in losses { total += Double(loss) }
        return total / Double(scored)
    }

    /// Logits[B·T, V] for tokens[B·T], for evaluation and sampling.
    public func logits(tokens: UnsafeBufferPointer<Int32>, batch: Int, time: Int) throws(CUDAUnavailable) -> [Float] {
        let w = try prepareWorkspace(batch: batch, time: time)
        try w.tokens.upload(tokens)
        try computeLogits(workspace: w)
        forwardIsCurrent = false
        var logits = [Float](repeating: 0, count: batch * time * config.vocabularySize)
        try logits.withUnsafeMutableBufferPointer { (logits) throws(CUDAUnavailable) in try w.logits.download(into: logits) }
        return logits
    }

    /// Accumulates dloss/dparameters of the last `forward` into `gradients`.
    public func backward() throws(CUDAUnavailable) {
        guard let w = workspace, forwardIsCurrent else {
            preconditionFailure("backward() needs a forward(tokens:targets:) right before it")
        }
        forwardIsCurrent = false
        let n = w.batch * w.time, c = config.hiddenSize, v = config.vocabularySize
        // logits = finalNorm · Eᵀ with the LM head tied to the embeddings E[V,C].
        try gpu.gemm(transposeA: true, transposeB: false, m: v, n: c, k: n, alpha: 1, a: w.logits.address, lda: v,
                     b: w.finalNorm.address, ldb: c, beta: 1, c: g(layout.wordEmbeddings), ldc: c)
        try gpu.gemm(transposeA: false, transposeB: false, m: n, n: c, k: v, alpha: 1, a: w.logits.address, lda: v,
                     b: p(layout.wordEmbeddings), ldb: c, beta: 0, c: w.narrowGradient.address, ldc: c)
        try w.residualGradient.zero()
        try gpu.layerNormBackward(
            dx: w.residualGradient.address, dw: g(layout.finalNormWeight), db: g(layout.finalNormBias),
            dout: w.narrowGradient.address, x: w.output.address, weight: p(layout.finalNormWeight),
            mean: w.finalNormMean.address, rstd: w.finalNormRstd.address, terms: w.columnTerms.address,
            rows: n, channels: c)
        for layer in stride(from: config.layerCount - 1, through: 0, by: -1) {
            try blockBackward(layer: layer, workspace: w)
        }
        try w.narrowGradient.zero()
        try gpu.layerNormBackward(
            dx: w.narrowGradient.address, dw: g(layout.embeddingNormWeight), db: g(layout.embeddingNormBias),
            dout: w.residualGradient.address, x: w.embedded.address, weight: p(layout.embeddingNormWeight),
            mean: w.embeddingNormMean.address, rstd: w.embeddingNormRstd.address,
            terms: w.columnTerms.address, rows: n, channels: c)
        try gpu.embeddingBackward(tableGradient: g(layout.wordEmbeddings), tokens: w.tokens.address,
                                  outGradient: w.narrowGradient.address, rows: n, vocabulary: v, channels: c)
    }

    /// Allocates the activations of `batch` sequences of `time` now, so that a GPU without the
    /// memory for them says so before training starts rather than at its first pass.
    public func reserve(batch: Int, time: Int) throws(CUDAUnavailable) {
        _ = try prepareWorkspace(batch: batch, time: time)
    }

    private func prepareWorkspace(batch: Int, time: Int) throws(CUDAUnavailable) -> CUDAWorkspace {
        precondition(batch > 0 && time > 0 && time <= config.longestSequence,
                     "batch \(batch) and time \(time) must be positive, time at most \(config.longestSequence)")
        if let w = workspace, w.time == time, batch <= w.capacity {
            w.batch = batch
            return w
        }
        workspace = nil
        let w = try CUDAWorkspace(config: config, capacity: batch, time: time, on: gpu)
        workspace = w
        return w
    }

    /// Embedding, its LayerNorm, the blocks, the final LayerNorm and the tied LM head.
    private func computeLogits(workspace w: CUDAWorkspace) throws(CUDAUnavailable) {
        let n = w.batch * w.time, c = config.hiddenSize, v = config.vocabularySize
        let epsilon = Float(config.layerNormEpsilon)
        try gpu.embeddingForward(out: w.embedded.address, tokens: w.tokens.address, table: p(layout.wordEmbeddings),
                                 rows: n, channels: c)
        let firstInput = config.layerCount > 0 ? w.blocks[0].input : w.output
        try gpu.layerNormForward(
            out: firstInput.address, mean: w.embeddingNormMean.address, rstd: w.embeddingNormRstd.address,
            x: w.embedded.address, weight: p(layout.embeddingNormWeight), bias: p(layout.embeddingNormBias),
            rows: n, channels: c, epsilon: epsilon)
        for layer in 0..<config.layerCount {
            let output = layer + 1 < config.layerCount ? w.blocks[layer + 1].input : w.output
            try blockForward(layer: layer, output: output, workspace: w)
        }
        try gpu.layerNormForward(
            out: w.finalNorm.address, mean: w.finalNormMean.address, rstd: w.finalNormRstd.address,
            x: w.output.address, weight: p(layout.finalNormWeight), bias: p(layout.finalNormBias),
            rows: n, channels: c, epsilon: epsilon)
        try gpu.gemm(transposeA: false, transposeB: true, m: n, n: v, k: c, alpha: 1, a: w.finalNorm.address, lda: c,
                     b: p(layout.wordEmbeddings), ldb: c, beta: 0, c: w.logits.address, ldc: v)
    }

    /// out = h + mlp(ln2(h)) with h = x + attention(ln1(x)).
    private func blockForward(layer: Int, output: DeviceBuffer<Float>, workspace w: CUDAWorkspace) throws(CUDAUnavailable) {
        let a = w.blocks[layer], s = layout.blocks[layer]
        let n = w.batch * w.time, c = config.hiddenSize
        let epsilon = Float(config.layerNormEpsilon)
        try gpu.layerNormForward(
            out: a.inputNorm.address, mean: a.inputNormMean.address, rstd: a.inputNormRstd.address, x: a.input.address,
            weight: p(s.inputNormWeight), bias: p(s.inputNormBias), rows: n, channels: c, epsilon: epsilon)
        try gpu.linearForward(y: a.qkv.address, x: a.inputNorm.address, weight: p(s.qkvWeight), bias: p(s.qkvBias),
                              rows: n, inputs: c, outputs: 3 * c)
        try attention(w).forward(context: a.context.address, probabilities: a.probabilities.address, qkv: a.qkv.address)
        try gpu.copy(to: a.afterAttention.address, from: a.input.address, floats: n * c)
        try gpu.linearForward(y: a.afterAttention.address, x: a.context.address, weight: p(s.attentionOutputWeight),
                              bias: p(s.attentionOutputBias), rows: n, inputs: c, outputs: c, accumulate: true)
        try gpu.layerNormForward(
            out: a.postNorm.address, mean: a.postNormMean.address, rstd: a.postNormRstd.address,
            x: a.afterAttention.address, weight: p(s.postAttentionNormWeight), bias: p(s.postAttentionNormBias),
            rows: n, channels: c, epsilon: epsilon)
        try gpu.linearForward(y: a.expanded.address, x: a.postNorm.address, weight: p(s.expandWeight), bias: p(s.expandBias),
                              rows: n, inputs: c, outputs: 4 * c)
        try gpu.geluForward(out: w.wideActivation.address, x: a.expanded.address, count: 4 * n * c)
        try gpu.copy(to: output.address, from: a.afterAttention.address, floats: n * c)
        try gpu.linearForward(y: output.address, x: w.wideActivation.address, weight: p(s.contractWeight),
                              bias: p(s.contractBias), rows: n, inputs: 4 * c, outputs: c, accumulate: true)
    }

    /// On entry `residualGradient` holds dloss/dout of the block; on exit dloss/dx.
    private func blockBackward(layer: Int, workspace w: CUDAWorkspace) throws(CUDAUnavailable) {
        let a = w.blocks[layer], s = layout.blocks[layer]
        let n = w.batch * w.time, c = config.hiddenSize
        let dResidual = w.residualGradient.address
        try gpu.geluForward(out: w.wideActivation.address, x: a.expanded.address, count: 4 * n * c)
        try gpu.linearBackward(dx: w.wideGradient.address, dw: g(s.contractWeight), db: g(s.contractBias), dy: dResidual,
                               x: w.wideActivation.address, weight: p(s.contractWeight), rows: n, inputs: 4 * c, outputs: c)
        try gpu.geluBackward(gradient: w.wideGradient.address, x: a.expanded.address, count: 4 * n * c)
        try gpu.linearBackward(dx: w.narrowGradient.address, dw: g(s.expandWeight), db: g(s.expandBias),
                               dy: w.wideGradient.address, x: a.postNorm.address, weight: p(s.expandWeight),
                               rows: n, inputs: c, outputs: 4 * c)
        try gpu.layerNormBackward(
            dx: dResidual, dw: g(s.postAttentionNormWeight), db: g(s.postAttentionNormBias), dout: w.narrowGradient.address,
            x: a.afterAttention.address, weight: p(s.postAttentionNormWeight), mean: a.postNormMean.address,
            rstd: a.postNormRstd.address, terms: w.columnTerms.address, rows: n, channels: c)
        try gpu.linearBackward(dx: w.narrowGradient.address, dw: g(s.attentionOutputWeight), db: g(s.attentionOutputBias),
                               dy: dResidual, x: a.context.address, weight: p(s.attentionOutputWeight),
                               rows: n, inputs: c, outputs: c)
        try attention(w).backward(qkvGradient: w.qkvGradient.address, contextGradient: w.narrowGradient.address,
                                  probabilities: a.probabilities.address, qkv: a.qkv.address,
                                  scratch: w.attentionScratch.address)
        try gpu.linearBackward(dx: w.narrowGradient.address, dw: g(s.qkvWeight), db: g(s.qkvBias), dy: w.qkvGradient.address,
                               x: a.inputNorm.address, weight: p(s.qkvWeight), rows: n, inputs: c, outputs: 3 * c)
        try gpu.layerNormBackward(
            dx: dResidual, dw: g(s.inputNormWeight), db: g(s.inputNormBias), dout: w.narrowGradient.address,
            x: a.input.address, weight: p(s.inputNormWeight), mean: a.inputNormMean.address,
            rstd: a.inputNormRstd.address, terms: w.columnTerms.address, rows: n, channels: c)
    }

    private func attention(_ w: CUDAWorkspace) -> CUDACausalAttention {
        CUDACausalAttention(gpu: gpu, batch: w.batch, time: w.time, channels: config.hiddenSize,
                            headCount: config.headCount, slopes: slopes.address)
    }
}
