import Foundation

/// A checkpoint folder: `config.json` and `model.safetensors` as transformers writes them for
/// BLOOM, plus Cohort's `optimizer.safetensors` (momentum, step, data position).
///
/// Each file is replaced atomically. Both safetensors files carry the step they were written at,
/// so a model and an optimizer file from different saves are detected instead of mixed.
public enum Checkpoint {
    public static let configName = "config.json"
    public static let modelName = "model.safetensors"
    public static let optimizerName = "optimizer.safetensors"

    /// What besides the parameters a run needs to continue exactly where it stopped.
    public struct OptimizerState {
        public var step: Int
        public var samplesSeen: Int
        public var dataGenerator: SeededGenerator
        public var momentum: FlatBuffer<Float>

        public init(step: Int, samplesSeen: Int, dataGenerator: SeededGenerator, momentum: FlatBuffer<Float>) {
            self.step = step
            self.samplesSeen = samplesSeen
            self.dataGenerator = dataGenerator
            self.momentum = momentum
        }
    }

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public static func save(model: TransformerModel<Float>, optimizer: OptimizerState?, to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let step = optimizer?.step ?? 0
        let tensors = model.layout.tensors.map { tensor in
            (name: tensor.name, shape: tensor.shape,
             values: UnsafeBufferPointer(start: model.parameters.base + tensor.offset, count: tensor.count))
        }
        try AtomicFile.write(
            SafeTensors.encode(tensors: tensors, metadata: ["format": "pt", "cohort_step": String(step)]),
            to: folder.appendingPathComponent(modelName))
        if let optimizer {
            let metadata = [
                "format": "cohort-optimizer-1",
                "cohort_step": String(optimizer.step),
                "samples_seen": String(optimizer.samplesSeen),
                "data_generator": optimizer.dataGenerator.stateWords.map { String($0) }.joined(separator: ","),
            ]
            let momentum = UnsafeBufferPointer(start: optimizer.momentum.base, count: optimizer.momentum.count)
            try AtomicFile.write(
                SafeTensors.encode(tensors: [(name: "momentum", shape: [momentum.count], values: momentum)], metadata: metadata),
                to: folder.appendingPathComponent(optimizerName))
        }
        try AtomicFile.write(BloomConfigFile.encode(model.config), to: folder.appendingPathComponent(configName))
    }

    public static func loadConfig(from folder: URL) throws -> ModelConfig {
        let url = folder.appendingPathComponent(configName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Error(description: "\(url.path): cannot be read (is \(folder.path) a checkpoint folder?)")
        }
        return try BloomConfigFile.decode(data, url: url)
    }

    /// Loads a checkpoint folder, ours or a BLOOM folder written by transformers.
    public static func loadModel(from folder: URL, contextLength: Int? = nil) throws -> TransformerModel<Float> {
        var config = try loadConfig(from: folder)
        if let contextLength, contextLength > config.maxContextLength { config.maxContextLength = contextLength }
        let model = TransformerModel<Float>(config: config)
        let file = try SafeTensors.File(contentsOf: folder.appendingPathComponent(modelName))
        let prefixed = file.tensors.keys.contains { $0.hasPrefix("transformer.") }
        for tensor in model.layout.tensors {
            let name = prefixed ? tensor.name : String(tensor.name.dropFirst("transformer.".count))
            guard let info = file.tensors[name] else { throw SafeTensorsError(url: file.url, reason: "has no tensor \"\(name)\"") }
            guard info.shape == tensor.shape else {
                throw SafeTensorsError(url: file.url, reason: "tensor \"\(name)\" has shape \(info.shape), config.json implies \(tensor.shape)")
            }
            try file.read(name, into: UnsafeMutableBufferPointer(start: model.parameters.base + tensor.offset, count: tensor.count))
        }
        if file.tensors["lm_head.weight"] != nil {
            let head = try file.readArray("lm_head.weight")
            let embeddings = model.layout.tensors[0]
            let tied = head.count == embeddings.count
                && head.indices.allSatisfy { head[$0] == model.parameters[embeddings.offset + $0] }
            guard tied else { throw SafeTensorsError(url: file.url, reason: "lm_head.weight differs from the word embeddings; only tied heads are supported") }
        }
        return model
    }

    /// Loads the optimizer file and checks that it belongs to the model file beside it.
    public static func loadOptimizer(from folder: URL, parameterCount: Int) throws -> OptimizerState {
        let url = folder.appendingPathComponent(optimizerName)
        let file = try SafeTensors.File(contentsOf: url)
        func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(url: url, reason: reason) }
        guard file.metadata["format"] == "cohort-optimizer-1" else { throw fail("is not a Cohort optimizer file") }
        guard let step = file.metadata["cohort_step"].flatMap(Int.init), step >= 0,
              let samples = file.metadata["samples_seen"].flatMap(Int.init), samples >= 0 else {
            throw fail("has no valid cohort_step / samples_seen metadata")
        }
        let words = (file.metadata["data_generator"] ?? "").split(separator: ",").compactMap { UInt64($0) }
        guard words.count == 4 else { throw fail("has no valid data_generator state") }
        let modelFile = try SafeTensors.File(contentsOf: folder.appendingPathComponent(modelName))
        guard modelFile.metadata["cohort_step"] == String(step) else {
            throw fail("is from step \(step) but model.safetensors is from step \(modelFile.metadata["cohort_step"] ?? "unknown")")
        }
        let momentum = FlatBuffer<Float>(count: parameterCount)
        try file.read("momentum", into: momentum.buffer)
        return OptimizerState(step: step, samplesSeen: samples, dataGenerator: SeededGenerator(state: words), momentum: momentum)
    }
}
