import Trainer

/// The CPU trainer's `Workspace` in device memory: every activation and scratch buffer one
/// forward and backward pass needs, allocated once for up to `capacity` sequences of `time`.
/// A smaller batch uses the front of every buffer (all are laid out sequence by sequence), so
/// a short last batch of validation windows allocates nothing.
///
/// Legend: B batch, T time, C channels, V vocabulary, NH heads, N = B·T rows.
final class CUDAWorkspace {
    /// What one block keeps from forward for backward.
    final class BlockActivations {
        let input: DeviceBuffer<Float>           // [N,C] residual stream entering the block
        let inputNorm: DeviceBuffer<Float>       // [N,C]
        let inputNormMean: DeviceBuffer<Float>   // [N]
        let inputNormRstd: DeviceBuffer<Float>   // [N]
        let qkv: DeviceBuffer<Float>             // [N,3C]
        let probabilities: DeviceBuffer<Float>   // [B,NH,T,T]
        let context: DeviceBuffer<Float>         // [N,C]
        let afterAttention: DeviceBuffer<Float>  // [N,C]
        let postNorm: DeviceBuffer<Float>        // [N,C]
        let postNormMean: DeviceBuffer<Float>    // [N]
        let postNormRstd: DeviceBuffer<Float>    // [N]
        let expanded: DeviceBuffer<Float>        // [N,4C] before GELU, recomputed through it in backward

        init(rows n: Int, channels c: Int, attentionScores: Int, on gpu: CUDAContext) throws(CUDAUnavailable) {
            input = try gpu.buffer(count: n * c)
            inputNorm = try gpu.buffer(count: n * c)
            inputNormMean = try gpu.buffer(count: n)
            inputNormRstd = try gpu.buffer(count: n)
            qkv = try gpu.buffer(count: 3 * n * c)
            probabilities = try gpu.buffer(count: attentionScores)
            context = try gpu.buffer(count: n * c)
            afterAttention = try gpu.buffer(count: n * c)
            postNorm = try gpu.buffer(count: n * c)
            postNormMean = try gpu.buffer(count: n)
            postNormRstd = try gpu.buffer(count: n)
            expanded = try gpu.buffer(count: 4 * n * c)
        }
    }

    let capacity: Int
    let time: Int
    /// The sequences of the pass in progress, at most `capacity`.
    var batch: Int
    let tokens: DeviceBuffer<Int32>              // [N]
    let targets: DeviceBuffer<Int32>             // [N]
    let embedded: DeviceBuffer<Float>            // [N,C] before the embedding LayerNorm
    let embeddingNormMean: DeviceBuffer<Float>   // [N]
    let embeddingNormRstd: DeviceBuffer<Float>   // [N]
    let blocks: [BlockActivations]
    let output: DeviceBuffer<Float>              // [N,C] leaving the last block
    let finalNorm: DeviceBuffer<Float>           // [N,C]
    let finalNormMean: DeviceBuffer<Float>       // [N]
    let finalNormRstd: DeviceBuffer<Float>       // [N]
    let logits: DeviceBuffer<Float>              // [N,V], overwritten by dlogits in forward
    let rowLosses: DeviceBuffer<Float>           // [N]

    // Backward scratch, shared by all blocks.
    let residualGradient: DeviceBuffer<Float>    // [N,C]
    let narrowGradient: DeviceBuffer<Float>      // [N,C]
    let wideGradient: DeviceBuffer<Float>        // [N,4C]
    let wideActivation: DeviceBuffer<Float>      // [N,4C] GELU output
    let qkvGradient: DeviceBuffer<Float>         // [N,3C]
    let attentionScratch: DeviceBuffer<Float>    // [B,NH,T,T]
    let columnTerms: DeviceBuffer<Float>         // [N,C] a LayerNorm's dout·x̂, summed by column

    init(config: ModelConfig, capacity: Int, time: Int, on gpu: CUDAContext) throws(CUDAUnavailable) {
        let n = capacity * time, c = config.hiddenSize
        let scores = capacity * config.headCount * time * time
        self.capacity = capacity
        batch = capacity
        self.time = time
        tokens = try gpu.buffer(count: n)
        targets = try gpu.buffer(count: n)
        embedded = try gpu.buffer(count: n * c)
        embeddingNormMean = try gpu.buffer(count: n)
        embeddingNormRstd = try gpu.buffer(count: n)
        var blocks: [BlockActivations] = []
        for _ in 0..<config.layerCount {
            blocks.append(try BlockActivations(rows: n, channels: c, attentionScores: scores, on: gpu))
        }
        self.blocks = blocks
        output = try gpu.buffer(count: n * c)
        finalNorm = try gpu.buffer(count: n * c)
        finalNormMean = try gpu.buffer(count: n)
        finalNormRstd = try gpu.buffer(count: n)
        logits = try gpu.buffer(count: n * config.vocabularySize)
        rowLosses = try gpu.buffer(count: n)
        residualGradient = try gpu.buffer(count: n * c)
        narrowGradient = try gpu.buffer(count: n * c)
        wideGradient = try gpu.buffer(count: 4 * n * c)
        wideActivation = try gpu.buffer(count: 4 * n * c)
        qkvGradient = try gpu.buffer(count: 3 * n * c)
        attentionScratch = try gpu.buffer(count: scores)
        columnTerms = try gpu.buffer(count: n * c)
    }
}
