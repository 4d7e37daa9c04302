/// The random parts of a training forward pass: dropout and stochastic depth. A forward without
/// it (evaluation, sampling, export, validation) runs the deterministic network, which is what
/// inverted dropout's scaling makes the expected training network.
public struct TrainingNoise: Sendable, Equatable {
    /// Dropout on the embedding LayerNorm's output and on both residual branches of every block
    /// (attention and MLP outputs before they are added), like GPT-2's embd_pdrop and resid_pdrop.
    public var dropout: Double
    /// Dropout on the attention probabilities (GPT-2's attn_pdrop).
    public var attentionDropout: Double
    /// Stochastic depth (Huang et al., ECCV 2016, §3): block l of L (from 0) skips both its residual
    /// branches for a sequence with probability `stochasticDepth` · (l + 1) / L, the last block at
    /// the full rate; a kept block's branches are scaled by 1/(1 − rate).
    public var stochasticDepth: Double
    /// Every mask of the pass derives from this; the same seed redraws the same masks.
    public var seed: UInt64
    /// The index in the whole micro-batch of this forward's first sequence: masks are keyed by
    /// sequence, so lanes that each run some rows draw what one model running all rows would.
    public var firstSequence: Int

    public init(dropout: Double = 0, attentionDropout: Double = 0, stochasticDepth: Double = 0, seed: UInt64,
                firstSequence: Int = 0) {
        self.dropout = dropout
        self.attentionDropout = attentionDropout
        self.stochasticDepth = stochasticDepth
        self.seed = seed
        self.firstSequence = firstSequence
    }

    /// Whether any rate is non-zero; a forward with all rates zero is today's deterministic one.
    public var isActive: Bool { dropout > 0 || attentionDropout > 0 || stochasticDepth > 0 }

    /// Where a mask is drawn; each site has its own streams.
    enum Site: Int {
        case embedding, attentionBranch, mlpBranch, attentionProbabilities, depth
    }

    func mask(rate: Double, site: Site, layer: Int = 0) -> DropoutMask {
        DropoutMask(rate: rate, seed: seed).keyed(site.rawValue).keyed(layer)
    }

    /// Block `layer` of `layerCount`'s drop rate under stochastic depth's linear decay rule.
    func depthRate(layer: Int, layerCount: Int) -> Double {
        stochasticDepth * Double(layer + 1) / Double(layerCount)
    }
}
