import Foundation
import Trainer

/// Writes the run's state as checkpoint folders `step-NNNNNNN` under a directory and keeps
/// the newest `keep` of them.
///
/// A folder is written under a temporary name and renamed when complete, so a folder with a
/// final name is always whole. A model run's folders load in `cohort eval` and `cohort sample`;
/// a prompt-tuning run's hold its prompt (`PromptCheckpoint`).
public struct CheckpointKeeper: Sendable {
    public let directory: URL
    public let keep: Int

    public init(directory: URL, keep: Int) {
        self.directory = directory
        self.keep = max(1, keep)
    }

    public func folder(step: Int) -> URL {
        directory.appendingPathComponent(String(format: "step-%07d", step))
    }

    /// Saves parameters and momentum (`state` as peers exchange it) at `step`: a model folder,
    /// or for a prompt-tuning run a prompt checkpoint of its trainable rows.
    public func save(config: ModelConfig, promptTuning: PromptTuningSettings? = nil, state: [UInt8], step: Int) throws -> URL {
        let final = folder(step: step)
        let temporary = directory.appendingPathComponent(".\(final.lastPathComponent).partial")
        try? FileManager.default.removeItem(at: temporary)
        if let promptTuning {
            try savePrompt(promptTuning, config: config, state: state, step: step, to: temporary)
        } else {
            try saveModel(config: config, state: state, step: step, to: temporary)
        }
        try? FileManager.default.removeItem(at: final)
        try FileManager.default.moveItem(at: temporary, to: final)
        try prune()
        return final
    }

    private func saveModel(config: ModelConfig, state: [UInt8], step: Int, to temporary: URL) throws {
        let model = TransformerModel<Float>(config: config)
        let count = model.parameters.count
        guard state.count == 2 * count * 4 else {
            throw Checkpoint.Error(description: "state of \(state.count) bytes does not fit the model's \(count) parameters")
        }
        let momentum = FlatBuffer<Float>(count: count)
        state.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(model.parameters.base).copyMemory(from: raw.baseAddress!, byteCount: count * 4)
            UnsafeMutableRawPointer(momentum.base).copyMemory(from: raw.baseAddress! + count * 4, byteCount: count * 4)
        }
        let optimizer = Checkpoint.OptimizerState(step: step, samplesSeen: 0, dataGenerator: SeededGenerator(seed: 0), momentum: momentum)
        try Checkpoint.save(model: model, optimizer: optimizer, to: temporary)
    }

    private func savePrompt(_ settings: PromptTuningSettings, config: ModelConfig, state: [UInt8], step: Int, to temporary: URL) throws {
        let vocabulary = PromptVocabulary(base: config, settings: settings)
        let count = vocabulary.trainableRange.count
        guard state.count == 2 * count * 4 else {
            throw Checkpoint.Error(description: "state of \(state.count) bytes does not fit the run's \(count) prompt parameters")
        }
        let values = [Float](unsafeUninitializedCapacity: 2 * count) { buffer, initialized in
            state.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
            initialized = 2 * count
        }
        try values.withUnsafeBufferPointer { all in
            try PromptCheckpoint.save(rows: UnsafeBufferPointer(rebasing: all[..<count]), momentum: UnsafeBufferPointer(rebasing: all[count...]),
                                      step: step, settings: settings, vocabulary: vocabulary, to: temporary)
        }
    }

    /// The state (`state` as peers exchange it: parameters then momentum) and step saved in
    /// `folder`, which must hold a model of `config`.
    public func loadState(config: ModelConfig, promptTuning: PromptTuningSettings? = nil, from folder: URL) throws -> (step: Int, state: [UInt8]) {
        if let promptTuning {
            let saved = try PromptCheckpoint.load(from: folder, settings: promptTuning,
                                                  vocabulary: PromptVocabulary(base: config, settings: promptTuning))
            return (saved.step, (saved.rows + saved.momentum).withUnsafeBytes { Array($0) })
        }
        let model = try Checkpoint.loadModel(from: folder)
        guard model.config == config else {
            throw Checkpoint.Error(description: "\(folder.path) holds a model of another shape than the run config's")
        }
        let count = model.parameters.count
        let optimizer = try Checkpoint.loadOptimizer(from: folder, parameterCount: count)
        let state = [UInt8](unsafeUninitializedCapacity: 2 * count * 4) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.baseAddress!.copyMemory(from: model.parameters.base, byteCount: count * 4)
            (raw.baseAddress! + count * 4).copyMemory(from: optimizer.momentum.base, byteCount: count * 4)
            initialized = 2 * count * 4
        }
        return (optimizer.step, state)
    }

    /// Checkpoint folders on disk, oldest first.
    public func existing() -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)) else { return nil }
            return (step, directory.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    private func prune() throws {
        for old in existing().dropLast(keep) { try FileManager.default.removeItem(at: old.url) }
    }
}
