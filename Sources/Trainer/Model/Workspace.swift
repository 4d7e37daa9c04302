/// Every activation and scratch buffer one forward and backward pass needs, for a fixed
/// batch × time, allocated once so that the training loop never allocates.
///
/// Legend: B batch, T time, C channels, V vocabulary, NH heads, N = B·T rows.
final class Workspace<Scalar: TrainingScalar> {
    /// The buffers one transformer block keeps from forward for backward.
    final class BlockActivations {
        let input: FlatBuffer<Scalar>              // [N,C] residual stream entering the block
        let inputNorm: FlatBuffer<Scalar>          // [N,C]
        let inputNormMean: FlatBuffer<Scalar>      // [N]
        let inputNormRstd: FlatBuffer<Scalar>      // [N]
        let qkv: FlatBuffer<Scalar>                // [N,3C]
        let probabilities: FlatBuffer<Scalar>      // [B,NH,T,T]
        let context: FlatBuffer<Scalar>            // [N,C]
        let afterAttention: FlatBuffer<Scalar>     // [N,C] residual after attention
        let postNorm: FlatBuffer<Scalar>           // [N,C]
        let postNormMean: FlatBuffer<Scalar>       // [N]
        let postNormRstd: FlatBuffer<Scalar>       // [N]
        let expanded: FlatBuffer<Scalar>           // [N,4C] before GELU; GELU is recomputed in backward

        init(rows n: Int, channels c: Int, attentionScores: Int) {
            input = FlatBuffer(count: n * c)
            inputNorm = FlatBuffer(count: n * c)
            inputNormMean = FlatBuffer(count: n)
            inputNormRstd = FlatBuffer(count: n)
            qkv = FlatBuffer(count: 3 * n * c)
            probabilities = FlatBuffer(count: attentionScores)
            context = FlatBuffer(count: n * c)
            afterAttention = FlatBuffer(count: n * c)
            postNorm = FlatBuffer(count: n * c)
            postNormMean = FlatBuffer(count: n)
            postNormRstd = FlatBuffer(count: n)
            expanded = FlatBuffer(count: 4 * n * c)
        }
    }

    let batch: Int
    let time: Int
    let embedded: FlatBuffer<Scalar>               // [N,C] word (+ absolute position) embeddings before their LayerNorm
    let sinusoids: FlatBuffer<Scalar>?             // [T,C] fixed position vectors; sinusoidal encoding only
    let embeddingNormMean: FlatBuffer<Scalar>      // [N]
    let embeddingNormRstd: FlatBuffer<Scalar>      // [N]
    let blocks: [BlockActivations]
    let output: FlatBuffer<Scalar>                 // [N,C] residual stream leaving the last block
    let finalNorm: FlatBuffer<Scalar>              // [N,C]
    let finalNormMean: FlatBuffer<Scalar>          // [N]
    let finalNormRstd: FlatBuffer<Scalar>          // [N]
    let logits: FlatBuffer<Scalar>                 // [N,V], overwritten by dlogits in forward
    let inputTokens: UnsafeMutablePointer<Int32>   // [N]
    let rowLosses: FlatBuffer<Double>              // [N] cross-entropy per row

    // Backward scratch, shared by all blocks.
    let residualGradient: FlatBuffer<Scalar>       // [N,C]
    let narrowGradient: FlatBuffer<Scalar>         // [N,C]
    let wideGradient: FlatBuffer<Scalar>           // [N,4C]
    let wideActivation: FlatBuffer<Scalar>         // [N,4C] recomputed GELU output
    let qkvGradient: FlatBuffer<Scalar>            // [N,3C]
    let attentionScratch: FlatBuffer<Scalar>       // [B,NH,T,T]; in a training forward, the dropped probabilities
    let branch: FlatBuffer<Scalar>                 // [N,C] a masked residual branch, forward and backward

    init(config: ModelConfig, batch: Int, time: Int) {
        let n = batch * time
        let c = config.hiddenSize
        self.batch = batch
        self.time = time
        embedded = FlatBuffer(count: n * c)
        if config.positionEncoding == .sinusoidal {
            let table: [Scalar] = AbsolutePositions.sinusoidTable(time: time, channels: c)
            let buffer = FlatBuffer<Scalar>(count: table.count)
            buffer.base.update(from: table, count: table.count)
            sinusoids = buffer
        } else {
            sinusoids = nil
        }
        embeddingNormMean = FlatBuffer(count: n)
        embeddingNormRstd = FlatBuffer(count: n)
        blocks = (0..<config.layerCount).map { _ in
            BlockActivations(rows: n, channels: c, attentionScores: batch * config.headCount * time * time)
        }
        output = FlatBuffer(count: n * c)
        finalNorm = FlatBuffer(count: n * c)
        finalNormMean = FlatBuffer(count: n)
        finalNormRstd = FlatBuffer(count: n)
        logits = FlatBuffer(count: n * config.vocabularySize)
        inputTokens = .allocate(capacity: n)
        rowLosses = FlatBuffer(count: n)
        inputTokens.initialize(repeating: 0, count: n)
        residualGradient = FlatBuffer(count: n * c)
        narrowGradient = FlatBuffer(count: n * c)
        wideGradient = FlatBuffer(count: 4 * n * c)
        wideActivation = FlatBuffer(count: 4 * n * c)
        qkvGradient = FlatBuffer(count: 3 * n * c)
        attentionScratch = FlatBuffer(count: batch * config.headCount * time * time)
        branch = FlatBuffer(count: n * c)
    }

    deinit {
        inputTokens.deallocate()
    }
}
