/// Where each named tensor lives in the flat parameter arena.
///
/// Names and shapes are BLOOM's (transformers' `BloomForCausalLM`), so a checkpoint maps onto the
/// arena tensor by tensor. Linear weights are stored as transformers stores them: [out, in].
public struct ParameterLayout: Sendable, Equatable {
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        /// Matrices decay; biases, LayerNorm parameters and nothing else do not.
        public var decays: Bool { shape.count == 2 }
    }

    /// Offsets of one transformer block's tensors.
    public struct Block: Sendable, Equatable {
        public let inputNormWeight, inputNormBias: Int
        public let qkvWeight, qkvBias: Int
        public let attentionOutputWeight, attentionOutputBias: Int
        public let postAttentionNormWeight, postAttentionNormBias: Int
        public let expandWeight, expandBias: Int
        public let contractWeight, contractBias: Int
    }

    public let tensors: [Tensor]
    public let wordEmbeddings: Int
    /// The learned position table [contextLength, C]; nil for the other encodings.
    public let positionEmbeddings: Int?
    public let embeddingNormWeight, embeddingNormBias: Int
    public let blocks: [Block]
    public let finalNormWeight, finalNormBias: Int
    public let parameterCount: Int

    public init(config: ModelConfig) {
        let c = config.hiddenSize
        var tensors: [Tensor] = []
        var next = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            let offset = next
            tensors.append(Tensor(name: "transformer." + name, shape: shape, offset: offset))
            next += shape.reduce(1, *)
            return offset
        }
        wordEmbeddings = add("word_embeddings.weight", [config.vocabularySize, c])
        positionEmbeddings = config.positionEncoding == .learned
            ? add("position_embeddings.weight", [config.contextLength, c]) : nil
        embeddingNormWeight = add("word_embeddings_layernorm.weight", [c])
        embeddingNormBias = add("word_embeddings_layernorm.bias", [c])
        var blocks: [Block] = []
        for layer in 0..<config.layerCount {
            let prefix = "h.\(layer)."
            blocks.append(Block(
                inputNormWeight: add(prefix + "input_layernorm.weight", [c]),
                inputNormBias: add(prefix + "input_layernorm.bias", [c]),
                qkvWeight: add(prefix + "self_attention.query_key_value.weight", [3 * c, c]),
                qkvBias: add(prefix + "self_attention.query_key_value.bias", [3 * c]),
                attentionOutputWeight: add(prefix + "self_attention.dense.weight", [c, c]),
                attentionOutputBias: add(prefix + "self_attention.dense.bias", [c]),
                postAttentionNormWeight: add(prefix + "post_attention_layernorm.weight", [c]),
                postAttentionNormBias: add(prefix + "post_attention_layernorm.bias", [c]),
                expandWeight: add(prefix + "mlp.dense_h_to_4h.weight", [4 * c, c]),
                expandBias: add(prefix + "mlp.dense_h_to_4h.bias", [4 * c]),
                contractWeight: add(prefix + "mlp.dense_4h_to_h.weight", [c, 4 * c]),
                contractBias: add(prefix + "mlp.dense_4h_to_h.bias", [c])))
        }
        self.blocks = blocks
        finalNormWeight = add("ln_f.weight", [c])
        finalNormBias = add("ln_f.bias", [c])
        self.tensors = tensors
        parameterCount = next
    }

    public func tensor(named name: String) -> Tensor? {
        tensors.first { $0.name == name }
    }
}
