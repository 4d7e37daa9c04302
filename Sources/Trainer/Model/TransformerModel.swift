/// BLOOM's decoder-only transformer with ALiBi attention (or, for controls, absolute positions;
/// see `PositionEncoding`): forward, loss and backward.
///
/// Parameters and their gradients are two flat arenas laid out by `ParameterLayout`, so that
/// optimizers, averaging and checkpoints see one vector each. Backward accumulates into
/// `gradients` (call `zeroGradients()` once per optimizer step), which is how gradient
/// accumulation over micro-batches works.
///
/// Legend: B batch, T time, C channels, V vocabulary, NH heads, N = B·T rows.
public final class TransformerModel<Scalar: TrainingScalar> {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let parameters: FlatBuffer<Scalar>
    public let gradients: FlatBuffer<Scalar>
    let slopes: [Scalar]
    private var workspace: Workspace<Scalar>?
    private var forwardIsCurrent = false
    /// Whether backward leaves the blocks' matrices and biases without gradients, for a run
    /// that trains only embedding rows (prompt tuning): a third fewer flops per step.
    public var freezesBlocks = false
    /// The noise of the last `forward`, which its `backward` masks the gradients with.
    private(set) var activeNoise: TrainingNoise?

    public init(config: ModelConfig) {
        self.config = config
        layout = ParameterLayout(config: config)
        parameters = FlatBuffer(count: layout.parameterCount)
        gradients = FlatBuffer(count: layout.parameterCount)
        // Zero slopes leave plain causal attention for the absolute encodings.
        slopes = config.positionEncoding.biasesAttention
            ? AlibiSlopes.slopes(headCount: config.headCount).map { Scalar($0) }
            : Array(repeating: 0, count: config.headCount)
    }

    /// A replica that reads `model`'s parameters (no copy) and has its own gradients and
    /// activations, so that several replicas can run forward and backward at once.
    public init(replicaOf model: TransformerModel<Scalar>) {
        config = model.config
        layout = model.layout
        parameters = model.parameters
        gradients = FlatBuffer(count: layout.parameterCount)
        slopes = model.slopes
        freezesBlocks = model.freezesBlocks
    }

    /// GPT-2/BLOOM style initialisation: N(0, 0.02) weights, residual projections scaled by
    /// 1/√(2·layers), zero biases, unit LayerNorm scales.
    public func initializeParameters(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let residualScale = 1 / (2 * Double(config.layerCount)).squareRoot()
        for tensor in layout.tensors {
            let slice = parameters.base + tensor.offset
            if tensor.name.hasSuffix("layernorm.weight") || tensor.name.hasSuffix("ln_f.weight") {
                slice.update(repeating: 1, count: tensor.count)
            } else if tensor.shape.count == 1 {
                slice.update(repeating: 0, count: tensor.count)
            } else {
                let isResidualProjection = tensor.name.hasSuffix("self_attention.dense.weight")
                    || tensor.name.hasSuffix("mlp.dense_4h_to_h.weight")
                let std = 0.02 * (isResidualProjection ? residualScale : 1)
                for index in 0..<tensor.count { slice[index] = Scalar(generator.nextGaussian() * std) }
            }
        }
    }

    public func zeroGradients() { gradients.zero() }

    /// Runs the model on tokens[B·T] and returns the mean cross-entropy against targets[B·T]
    /// (a negative target is not scored). Keeps every activation, and dloss/dlogits, for `backward()`.
    /// `noise` (training only) adds dropout and stochastic depth; nil runs the deterministic network.
    @discardableResult
    @_specialize(where Scalar == Float)
    public func forward(
        tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>, batch: Int, time: Int,
        noise: TrainingNoise? = nil
    ) -> Double {
        precondition(tokens.count == batch * time && targets.count == batch * time,
                     "forward needs \(batch)×\(time) tokens and targets, got \(tokens.count) and \(targets.count)")
        let w = prepareWorkspace(batch: batch, time: time)
        activeNoise = noise?.isActive == true ? noise : nil
        computeLogits(tokens: tokens, workspace: w)
        forwardIsCurrent = true
        return CrossEntropy.lossAndGradient(
            logits: w.logits.base, targets: targets.baseAddress!, rows: batch * time,
            vocabulary: config.vocabularySize, rowLosses: w.rowLosses.base)
    }

    /// Logits[B·T, V] for tokens[B·T], for evaluation and sampling. The returned buffer is valid
    /// until the next call.
    @_specialize(where Scalar == Float)
    public func logits(tokens: UnsafeBufferPointer<Int32>, batch: Int, time: Int) -> UnsafeBufferPointer<Scalar> {
        precondition(tokens.count == batch * time, "logits needs \(batch)×\(time) tokens, got \(tokens.count)")
        let w = prepareWorkspace(batch: batch, time: time)
        activeNoise = nil
        computeLogits(tokens: tokens, workspace: w)
        forwardIsCurrent = false
        return UnsafeBufferPointer(start: w.logits.base, count: batch * time * config.vocabularySize)
    }

    /// Accumulates dloss/dparameters of the last `forward` into `gradients`.
    @_specialize(where Scalar == Float)
    public func backward() {
        guard let w = workspace, forwardIsCurrent else {
            preconditionFailure("backward() needs a forward(tokens:targets:) right before it")
        }
        forwardIsCurrent = false
        let n = w.batch * w.time, c = config.hiddenSize, v = config.vocabularySize
        let p = parameters.base, g = gradients.base
        // logits = finalNorm · Eᵀ with the LM head tied to the embeddings E[V,C].
        Scalar.gemm(transposeA: true, transposeB: false, m: v, n: c, k: n, alpha: 1,
                    a: w.logits.base, lda: v, b: w.finalNorm.base, ldb: c, beta: 1, c: g + layout.wordEmbeddings, ldc: c)
        Scalar.gemm(transposeA: false, transposeB: false, m: n, n: c, k: v, alpha: 1,
                    a: w.logits.base, lda: v, b: p + layout.wordEmbeddings, ldb: c, beta: 0, c: w.narrowGradient.base, ldc: c)
        w.residualGradient.zero()
        LayerNorm.backward(
            inputGradient: w.residualGradient.base, weightGradient: g + layout.finalNormWeight,
            biasGradient: g + layout.finalNormBias, outputGradient: w.narrowGradient.base, input: w.output.base,
            weight: p + layout.finalNormWeight, mean: w.finalNormMean.base,
            reciprocalStandardDeviation: w.finalNormRstd.base, rows: n, channels: c)
        for layer in stride(from: config.layerCount - 1, through: 0, by: -1) {
            blockBackward(layer: layer, workspace: w)
        }
        dropEmbeddingOutput(w.residualGradient.base, workspace: w)
        w.narrowGradient.zero()
        LayerNorm.backward(
            inputGradient: w.narrowGradient.base, weightGradient: g + layout.embeddingNormWeight,
            biasGradient: g + layout.embeddingNormBias, outputGradient: w.residualGradient.base, input: w.embedded.base,
            weight: p + layout.embeddingNormWeight, mean: w.embeddingNormMean.base,
            reciprocalStandardDeviation: w.embeddingNormRstd.base, rows: n, channels: c)
        accumulatePositionGradients(embeddedGradient: w.narrowGradient.base, workspace: w)
        for row in 0..<n {
            let embeddingGradient = g + layout.wordEmbeddings + Int(w.inputTokens[row]) * c
            let rowGradient = w.narrowGradient.base + row * c
            for j in 0..<c { embeddingGradient[j] += rowGradient[j] }
        }
    }

    private func prepareWorkspace(batch: Int, time: Int) -> Workspace<Scalar> {
        precondition(batch > 0 && time > 0 && time <= config.longestSequence,
                     "batch \(batch) and time \(time) must be positive, time at most \(config.longestSequence)")
        if let w = workspace, w.batch == batch, w.time == time { return w }
        workspace = nil
        let w = Workspace<Scalar>(config: config, batch: batch, time: time)
        workspace = w
        return w
    }
}
