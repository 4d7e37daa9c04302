extension TransformerModel {
    /// Embedding (plus absolute positions), its LayerNorm, the blocks, the final LayerNorm and the tied LM head.
    func computeLogits(tokens: UnsafeBufferPointer<Int32>, workspace w: Workspace<Scalar>) {
        let n = w.batch * w.time, c = config.hiddenSize, v = config.vocabularySize
        let p = parameters.base
        for row in 0..<n {
            let token = Int(tokens[row])
            precondition(token >= 0 && token < v, "token \(token) is outside the vocabulary of \(v)")
            w.inputTokens[row] = Int32(token)
            (w.embedded.base + row * c).update(from: p + layout.wordEmbeddings + token * c, count: c)
        }
        addAbsolutePositions(workspace: w)
        let firstInput = config.layerCount > 0 ? w.blocks[0].input : w.output
        LayerNorm.forward(
            output: firstInput.base, mean: w.embeddingNormMean.base, reciprocalStandardDeviation: w.embeddingNormRstd.base,
            input: w.embedded.base, weight: p + layout.embeddingNormWeight, bias: p + layout.embeddingNormBias,
            rows: n, channels: c, epsilon: Scalar(config.layerNormEpsilon))
        dropEmbeddingOutput(firstInput.base, workspace: w)
        for layer in 0..<config.layerCount {
            let output = layer + 1 < config.layerCount ? w.blocks[layer + 1].input : w.output
            blockForward(layer: layer, output: output.base, workspace: w)
        }
        LayerNorm.forward(
            output: w.finalNorm.base, mean: w.finalNormMean.base, reciprocalStandardDeviation: w.finalNormRstd.base,
            input: w.output.base, weight: p + layout.finalNormWeight, bias: p + layout.finalNormBias,
            rows: n, channels: c, epsilon: Scalar(config.layerNormEpsilon))
        Scalar.gemm(transposeA: false, transposeB: true, m: n, n: v, k: c, alpha: 1,
                    a: w.finalNorm.base, lda: c, b: p + layout.wordEmbeddings, ldb: c, beta: 0, c: w.logits.base, ldc: v)
    }

    /// out = h + mlp(ln2(h)) with h = x + attention(ln1(x)).
    private func blockForward(layer: Int, output: UnsafeMutablePointer<Scalar>, workspace w: Workspace<Scalar>) {
        let a = w.blocks[layer], s = layout.blocks[layer], p = parameters.base
        let n = w.batch * w.time, c = config.hiddenSize
        let epsilon = Scalar(config.layerNormEpsilon)
        LayerNorm.forward(
            output: a.inputNorm.base, mean: a.inputNormMean.base, reciprocalStandardDeviation: a.inputNormRstd.base,
            input: a.input.base, weight: p + s.inputNormWeight, bias: p + s.inputNormBias,
            rows: n, channels: c, epsilon: epsilon)
        Linear.forward(output: a.qkv.base, input: a.inputNorm.base, weight: p + s.qkvWeight, bias: p + s.qkvBias,
                       rows: n, inputs: c, outputs: 3 * c)
        attention(for: w, layer: layer).forward(context: a.context.base, probabilities: a.probabilities.base, qkv: a.qkv.base,
                                                droppedProbabilities: w.attentionScratch.base)
        addResidualBranch(output: a.afterAttention.base, residual: a.input.base, layer: layer, site: .attentionBranch,
                          workspace: w) { branch, accumulate in
            Linear.forward(output: branch, input: a.context.base, weight: p + s.attentionOutputWeight,
                           bias: p + s.attentionOutputBias, rows: n, inputs: c, outputs: c, accumulate: accumulate)
        }
        LayerNorm.forward(
            output: a.postNorm.base, mean: a.postNormMean.base, reciprocalStandardDeviation: a.postNormRstd.base,
            input: a.afterAttention.base, weight: p + s.postAttentionNormWeight, bias: p + s.postAttentionNormBias,
            rows: n, channels: c, epsilon: epsilon)
        Linear.forward(output: a.expanded.base, input: a.postNorm.base, weight: p + s.expandWeight, bias: p + s.expandBias,
                       rows: n, inputs: c, outputs: 4 * c)
        GELU.forward(output: w.wideActivation.base, input: a.expanded.base, count: 4 * n * c)
        addResidualBranch(output: output, residual: a.afterAttention.base, layer: layer, site: .mlpBranch,
                          workspace: w) { branch, accumulate in
            Linear.forward(output: branch, input: w.wideActivation.base, weight: p + s.contractWeight, bias: p + s.contractBias,
                           rows: n, inputs: 4 * c, outputs: c, accumulate: accumulate)
        }
    }

    /// On entry `residualGradient` holds dloss/dout of the block; on exit dloss/dx.
    func blockBackward(layer: Int, workspace w: Workspace<Scalar>) {
        let a = w.blocks[layer], s = layout.blocks[layer], p = parameters.base, g = gradients.base
        let n = w.batch * w.time, c = config.hiddenSize
        // Frozen blocks skip their weight products: only the gradient flowing through is needed.
        func trained(_ offset: Int) -> UnsafeMutablePointer<Scalar>? { freezesBlocks ? nil : g + offset }
        let dResidual = w.residualGradient.base
        GELU.forward(output: w.wideActivation.base, input: a.expanded.base, count: 4 * n * c)
        Linear.backward(
            inputGradient: w.wideGradient.base, weightGradient: trained(s.contractWeight), biasGradient: trained(s.contractBias),
            outputGradient: residualBranchGradient(dResidual, layer: layer, site: .mlpBranch, workspace: w),
            input: w.wideActivation.base, weight: p + s.contractWeight, rows: n, inputs: 4 * c, outputs: c)
        GELU.backward(gradient: w.wideGradient.base, input: a.expanded.base, count: 4 * n * c)
        Linear.backward(
            inputGradient: w.narrowGradient.base, weightGradient: trained(s.expandWeight), biasGradient: trained(s.expandBias),
            outputGradient: w.wideGradient.base, input: a.postNorm.base, weight: p + s.expandWeight,
            rows: n, inputs: c, outputs: 4 * c)
        LayerNorm.backward(
            inputGradient: dResidual, weightGradient: g + s.postAttentionNormWeight, biasGradient: g + s.postAttentionNormBias,
            outputGradient: w.narrowGradient.base, input: a.afterAttention.base, weight: p + s.postAttentionNormWeight,
            mean: a.postNormMean.base, reciprocalStandardDeviation: a.postNormRstd.base, rows: n, channels: c)
        Linear.backward(
            inputGradient: w.narrowGradient.base, weightGradient: trained(s.attentionOutputWeight),
            biasGradient: trained(s.attentionOutputBias),
            outputGradient: residualBranchGradient(dResidual, layer: layer, site: .attentionBranch, workspace: w),
            input: a.context.base, weight: p + s.attentionOutputWeight, rows: n, inputs: c, outputs: c)
        attention(for: w, layer: layer).backward(
            qkvGradient: w.qkvGradient.base, contextGradient: w.narrowGradient.base,
            probabilities: a.probabilities.base, qkv: a.qkv.base, scratch: w.attentionScratch.base)
        Linear.backward(
            inputGradient: w.narrowGradient.base, weightGradient: trained(s.qkvWeight), biasGradient: trained(s.qkvBias),
            outputGradient: w.qkvGradient.base, input: a.inputNorm.base, weight: p + s.qkvWeight,
            rows: n, inputs: c, outputs: 3 * c)
        LayerNorm.backward(
            inputGradient: dResidual, weightGradient: g + s.inputNormWeight, biasGradient: g + s.inputNormBias,
            outputGradient: w.narrowGradient.base, input: a.input.base, weight: p + s.inputNormWeight,
            mean: a.inputNormMean.base, reciprocalStandardDeviation: a.inputNormRstd.base, rows: n, channels: c)
    }

    private func attention(for w: Workspace<Scalar>, layer: Int) -> CausalAttention<Scalar> {
        CausalAttention(batch: w.batch, time: w.time, channels: config.hiddenSize, headCount: config.headCount, slopes: slopes,
                        dropout: attentionDropout(layer: layer))
    }
}
