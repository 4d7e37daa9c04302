import Trainer

/// Cohort's transformer (BLOOM with ALiBi and tied embeddings) as an ONNX graph.
///
/// The graph computes what `TransformerModel.logits` computes: input `input_ids` int64
/// [batch, sequence], output `logits` float [batch, sequence, vocabulary], with batch and
/// sequence left dynamic. The ALiBi bias and the causal mask are built in the graph from the
/// runtime sequence length, so the exported model runs at any length, as the trainer's does
/// (ALiBi §4). Initializers keep the checkpoint's tensor names; the word embeddings are stored
/// once and serve both the lookup and, transposed in the graph, the tied output projection.
/// Linear weights are stored transposed ([in, out]) because MatMul takes them that way.
///
/// Legend: B batch, T sequence, C channels, V vocabulary, NH heads, HD = C/NH.
public enum BloomONNXGraph {
    /// 17 is the first opset with LayerNormalization; onnxruntime has run it since 1.14.
    public static let opsetVersion: Int64 = 17
    /// The IR version that opset 17 belongs to (ONNX 1.12).
    public static let irVersion: Int64 = 8
    public static let inputName = "input_ids"
    public static let outputName = "logits"
    /// Added to the scores of future keys: far below any real score, yet finite, so that the
    /// softmax of a masked row never meets inf − inf.
    static let maskedScore: Float = -1e9

    /// The graph of a model whose parameters are laid out by `ParameterLayout(config:)`.
    public static func model(config: ModelConfig, parameters: UnsafeBufferPointer<Float>) -> Onnx_ModelProto {
        let layout = ParameterLayout(config: config)
        precondition(parameters.count == layout.parameterCount,
                     "the arena holds \(parameters.count) parameters, the config needs \(layout.parameterCount)")
        let writer = Writer(config: config, layout: layout, parameters: parameters)
        writer.buildForward()

        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = opsetVersion
        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        model.opsetImport = [opset]
        model.producerName = "cohort"
        model.graph = writer.builder.graph
        model.metadataProps = [
            metadata("context_length", config.contextLength),
            metadata("max_context_length", config.maxContextLength),
        ]
        return model
    }

    private static func metadata(_ key: String, _ value: Int) -> Onnx_StringStringEntryProto {
        var entry = Onnx_StringStringEntryProto()
        entry.key = key
        entry.value = String(value)
        return entry
    }

    /// Emits the nodes; one method per part of the architecture.
    struct Writer {
        let config: ModelConfig
        let layout: ParameterLayout
        let parameters: UnsafeBufferPointer<Float>
        let builder = ONNXGraphBuilder(name: "cohort_bloom")

        /// embed → LayerNorm → blocks → LayerNorm → tied head, like `computeLogits`.
        func buildForward() {
            let batch = Onnx_ValueInfoProto.Dimension.named("batch")
            let sequence = Onnx_ValueInfoProto.Dimension.named("sequence")
            builder.addInput(.tensor(name: BloomONNXGraph.inputName, elementType: .int64, shape: [batch, sequence]))
            builder.addOutput(.tensor(name: BloomONNXGraph.outputName, elementType: .float,
                                      shape: [batch, sequence, .fixed(config.vocabularySize)]))

            let embeddings = tensor(at: layout.wordEmbeddings)
            let embedded = builder.add("Gather", [embeddings, BloomONNXGraph.inputName], attributes: [.int("axis", 0)])  // [B,T,C]
            var hidden = layerNorm(embedded, weight: layout.embeddingNormWeight, bias: layout.embeddingNormBias)
            let bias = alibiBias()
            for block in layout.blocks {
                hidden = transformerBlock(hidden, block: block, attentionBias: bias)
            }
            let normed = layerNorm(hidden, weight: layout.finalNormWeight, bias: layout.finalNormBias)
            let head = builder.add("Transpose", [embeddings], attributes: [.ints("perm", [1, 0])])  // [C,V]
            _ = builder.add("MatMul", [normed, head], output: BloomONNXGraph.outputName)  // [B,T,V]
        }

        /// The initializer of the checkpoint tensor that starts at `offset`, stored as it is.
        func tensor(at offset: Int) -> String {
            let tensor = layoutTensor(at: offset)
            return builder.initializer(
                tensor.name, shape: tensor.shape, values: parameters[offset..<offset + tensor.count])
        }

        /// A [out, in] weight stored as [in, out], for MatMul.
        func transposedWeight(at offset: Int) -> String {
            let tensor = layoutTensor(at: offset)
            let (outputs, inputs) = (tensor.shape[0], tensor.shape[1])
            var transposed = [Float](repeating: 0, count: tensor.count)
            for row in 0..<outputs {
                for column in 0..<inputs { transposed[column * outputs + row] = parameters[offset + row * inputs + column] }
            }
            return builder.initializer(tensor.name, shape: [inputs, outputs], values: transposed)
        }

        func layerNorm(_ input: String, weight: Int, bias: Int) -> String {
            builder.add(
                "LayerNormalization", [input, tensor(at: weight), tensor(at: bias)],
                attributes: [.int("axis", -1), .float("epsilon", Float(config.layerNormEpsilon))])
        }

        /// input · Wᵀ + b for a transformers-style [out, in] weight.
        func linear(_ input: String, weight: Int, bias: Int) -> String {
            let product = builder.add("MatMul", [input, transposedWeight(at: weight)])
            return builder.add("Add", [product, tensor(at: bias)])
        }

        private func layoutTensor(at offset: Int) -> ParameterLayout.Tensor {
            guard let tensor = layout.tensors.first(where: { $0.offset == offset }) else {
                preconditionFailure("no tensor of the layout starts at offset \(offset)")
            }
            return tensor
        }
    }
}
