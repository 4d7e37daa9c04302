import Foundation

/// A prompt-tuning run's checkpoint: `prompt.safetensors` in a folder, holding the trained
/// prompt and label rows, their momentum, the step, and the base model's hash and task in its
/// metadata. The base model itself stays where it is; the hash ties the two together.
public enum PromptCheckpoint {
    public static let fileName = "prompt.safetensors"
    static let format = "cohort-prompt-1"

    /// A saved state: trainable rows then momentum, as peers exchange them.
    public struct Saved: Equatable {
        public let step: Int
        public let rows: [Float]
        public let momentum: [Float]
    }

    public static func save(rows: UnsafeBufferPointer<Float>, momentum: UnsafeBufferPointer<Float>, step: Int,
                            settings: PromptTuningSettings, vocabulary: PromptVocabulary, to folder: URL) throws {
        let c = vocabulary.base.hiddenSize, p = vocabulary.promptLength, l = vocabulary.labelCount
        precondition(rows.count == (p + l) * c && momentum.count == rows.count, "prompt rows and momentum of \((p + l) * c) elements")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let metadata = ["format": format, "cohort_step": String(step), "base_model_hash": settings.baseModelHash,
                        "task": settings.task, "prompt_length": String(p)]
        let tensors = [
            (name: "prompt_embeddings", shape: [p, c], values: UnsafeBufferPointer(rebasing: rows[..<(p * c)])),
            (name: "label_embeddings", shape: [l, c], values: UnsafeBufferPointer(rebasing: rows[(p * c)...])),
            (name: "momentum", shape: [rows.count], values: momentum),
        ]
        try AtomicFile.write(SafeTensors.encode(tensors: tensors, metadata: metadata), to: folder.appendingPathComponent(fileName))
    }

    /// Loads the checkpoint in `folder`, refusing one of another base, task or shape.
    public static func load(from folder: URL, settings: PromptTuningSettings, vocabulary: PromptVocabulary) throws -> Saved {
        let file = try SafeTensors.File(contentsOf: folder.appendingPathComponent(fileName))
        func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(url: file.url, reason: reason) }
        guard file.metadata["format"] == format else { throw fail("is not a Cohort prompt checkpoint") }
        guard let step = file.metadata["cohort_step"].flatMap(Int.init), step >= 0 else { throw fail("has no valid cohort_step") }
        guard file.metadata["base_model_hash"] == settings.baseModelHash, file.metadata["task"] == settings.task else {
            throw fail("belongs to another base model or task than this run's")
        }
        let c = vocabulary.base.hiddenSize
        guard file.tensors["prompt_embeddings"]?.shape == [vocabulary.promptLength, c],
              file.tensors["label_embeddings"]?.shape == [vocabulary.labelCount, c] else {
            throw fail("holds prompt or label rows of another shape than this run's")
        }
        let rows = try file.readArray("prompt_embeddings") + file.readArray("label_embeddings")
        var momentum = [Float](repeating: 0, count: rows.count)
        try momentum.withUnsafeMutableBufferPointer { try file.read("momentum", into: $0) }
        return Saved(step: step, rows: rows, momentum: momentum)
    }
}
