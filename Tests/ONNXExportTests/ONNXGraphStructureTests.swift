import Foundation
import ONNXExport
import Testing
import Trainer

/// The exported graph's structure, without running it.
struct ONNXGraphStructureTests {
    static let config = ModelConfig(vocabularySize: 40, hiddenSize: 24, layerCount: 2, headCount: 6, contextLength: 8)

    /// A model with distinct, recognisable parameter values: parameter i holds i/1000.
    static func exported(config: ModelConfig = config) -> (arena: [Float], model: Onnx_ModelProto) {
        let arena = (0..<config.parameterCount).map { Float($0) / 1000 }
        return (arena, arena.withUnsafeBufferPointer { BloomONNXGraph.model(config: config, parameters: $0) })
    }

    @Test func declaresOpset17AndItsIRVersion() {
        let model = Self.exported().model
        #expect(model.opsetImport.map(\.version) == [17])
        #expect(model.opsetImport.map(\.domain) == [""])
        #expect(model.irVersion == 8)
    }

    @Test func batchAndSequenceAreDynamicAndTheVocabularyFixed() {
        let graph = Self.exported().model.graph
        func dimensions(_ value: Onnx_ValueInfoProto) -> [String] {
            value.type.tensorType.shape.dim.map { dimension in
                switch dimension.value {
                case .dimParam(let name): name
                case .dimValue(let size): String(size)
                case nil: "unset"
                }
            }
        }
        #expect(graph.input.map(\.name) == ["input_ids"])
        #expect(graph.input.first.map(dimensions) == ["batch", "sequence"])
        #expect(graph.input.first?.type.tensorType.elemType == Int32(Onnx_TensorProto.DataType.int64.rawValue))
        #expect(graph.output.map(\.name) == ["logits"])
        #expect(graph.output.first.map(dimensions) == ["batch", "sequence", "40"])
    }

    @Test func everyCheckpointTensorIsStoredOnceWithItsSize() throws {
        let graph = Self.exported().model.graph
        let layout = ParameterLayout(config: Self.config)
        let initializers = Dictionary(grouping: graph.initializer, by: \.name)
        for tensor in layout.tensors {
            let stored = try #require(initializers[tensor.name], "\(tensor.name) is missing")
            #expect(stored.count == 1, "\(tensor.name) is stored \(stored.count) times")
            #expect(stored[0].rawData.count == 4 * tensor.count, "\(tensor.name)")
            #expect(stored[0].dims.reduce(1, *) == Int64(tensor.count), "\(tensor.name)")
        }
        let parameterBytes = graph.initializer.filter { layout.tensor(named: $0.name) != nil }.map(\.rawData.count).reduce(0, +)
        #expect(parameterBytes == 4 * layout.parameterCount)
    }

    @Test func theTiedEmbeddingsAreOneCopyServingLookupAndHead() throws {
        let (arena, model) = Self.exported()
        let graph = model.graph
        let name = "transformer.word_embeddings.weight"
        let embeddingCount = Self.config.vocabularySize * Self.config.hiddenSize
        #expect(graph.initializer.filter { $0.dims.reduce(1, *) == Int64(embeddingCount) }.map(\.name) == [name])
        let stored = try #require(graph.initializer.first { $0.name == name })
        #expect(stored.dims == [40, 24])
        let values = stored.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(values == Array(arena[0..<embeddingCount]))
        let readers = graph.node.filter { $0.input.contains(name) }.map(\.opType)
        #expect(readers.sorted() == ["Gather", "Transpose"])
    }

    /// BLOOM's slopes for 6 heads: 2^-2, 2^-4, 2^-6, 2^-8 for the 4 below, then 2^-1 and 2^-3,
    /// every other slope of the sequence for 8 heads.
    @Test func nonPowerOfTwoHeadCountsGetBloomsSlopes() throws {
        let graph = Self.exported().model.graph
        let slopes = try #require(graph.initializer.first { $0.name == "alibi_slopes" })
        #expect(slopes.dims == [6, 1, 1])
        let values = slopes.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(values == [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125])
    }

    /// No tensor of the graph is sized by a sequence length: the bias and mask come from the
    /// runtime shape of `input_ids`.
    @Test func theAttentionBiasIsBuiltFromTheRuntimeLength() {
        let graph = Self.exported().model.graph
        let shapeReaders = graph.node.filter { $0.opType == "Shape" }.map(\.input)
        #expect(shapeReaders == [["input_ids"]])
        #expect(graph.node.contains { $0.opType == "Range" })
        let context = Int64(Self.config.contextLength), longest = Int64(Self.config.maxContextLength)
        for initializer in graph.initializer {
            #expect(!initializer.dims.contains(context) && !initializer.dims.contains(longest), "\(initializer.name): \(initializer.dims)")
        }
    }

    @Test func nodesReadOnlyValuesDefinedBeforeThem() {
        let graph = Self.exported().model.graph
        var defined = Set(graph.input.map(\.name) + graph.initializer.map(\.name))
        for node in graph.node {
            for input in node.input where !input.isEmpty {
                #expect(defined.contains(input), "\(node.opType) \(node.name) reads undefined \(input)")
            }
            defined.formUnion(node.output)
        }
        #expect(defined.contains("logits"))
        #expect(Set(graph.node.map(\.name)).count == graph.node.count, "node names are unique")
    }

    @Test func modelsBeyondProtobufsTwoGibibytesAreRefused() {
        let large = ModelConfig(hiddenSize: 4096, layerCount: 4, headCount: 32, contextLength: 128)
        #expect(large.parameterCount * 4 > 1 << 31)
        #expect(throws: ONNXExport.Error.self) { try ONNXExport.checkFits(large) }
        #expect(throws: Never.self) { try ONNXExport.checkFits(Self.config) }
    }
}
