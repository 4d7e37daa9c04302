import Foundation
import Trainer

/// Builds a prompt-tuning run's trainer the same way on every peer: the frozen base checked
/// against the run's hash, the bundled task, the prompt and label rows started from the base's
/// own embeddings.
public enum PromptTuningSetup {
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// The bytes the prompt rows start from (cycled): the embeddings of a plain question.
    public static let promptText = Array("Which play is this from? ".utf8)

    /// The shape a run trains its base at: the base's, with rows only as long as the task's
    /// longest row (prompt, text, separator and, for zero-shot scoring, a label word) rather
    /// than the whole context a base was trained at (2,048 for transformers' BLOOM configs).
    /// A learned position table is sized by the context, so such a base keeps its own.
    /// The maximum context is set to the rows, so that a base saved by Cohort and by
    /// transformers (which records no maximum) gives the same shape.
    public static func runShape(of base: ModelConfig, settings: PromptTuningSettings) -> ModelConfig {
        guard base.positionEncoding != .learned else { return base }
        var shape = base
        shape.contextLength = min(base.longestSequence, rowLength(settings))
        shape.maxContextLength = shape.contextLength
        return shape
    }

    /// Tokens the task's longest row takes: prompt, text and separator, or (zero-shot) text,
    /// separator and label word.
    static func rowLength(_ settings: PromptTuningSettings) -> Int {
        max(settings.promptLength, PromptTask.labelWordBytes) + PromptTask.textBytes + PromptTemplate.defaultSeparator.count
    }

    /// Throws unless a run of `settings` over a base of shape `base` can run on every peer:
    /// rows long enough for the task, and enough speeches for its shots and held-out set. The
    /// coordinator checks this before it signs the config.
    public static func check(settings: PromptTuningSettings, base: ModelConfig, corpus: [UInt8]) throws {
        let shape = runShape(of: base, settings: settings)
        guard shape.contextLength >= rowLength(settings) else {
            throw Error(description: "the base model runs rows of at most \(shape.contextLength) tokens; the task with \(settings.promptLength) prompt vectors needs \(rowLength(settings))")
        }
        _ = try taskData(settings: settings, vocabulary: PromptVocabulary(base: shape, settings: settings), corpus: corpus)
    }

    /// Loads the base model in `folder` (a Cohort checkpoint or a transformers BLOOM folder),
    /// checks it is the one `settings` names, and gives it the run's shape (`runShape`).
    public static func loadBase(from folder: URL, settings: PromptTuningSettings) throws -> TransformerModel<Float> {
        try checkedBase(loadByteModel(from: folder), settings: settings, source: folder.path)
    }

    /// `base`, once its hash is the one `settings` names, in the run's shape (`runShape`).
    /// `source` names it in the error.
    public static func checkedBase(_ base: TransformerModel<Float>, settings: PromptTuningSettings,
                                   source: String) throws -> TransformerModel<Float> {
        let hash = BaseModelFingerprint.hash(of: base)
        guard hash == settings.baseModelHash else {
            throw Error(description: "\(source): base model hash \(hash.prefix(16))… differs from the run's \(settings.baseModelHash.prefix(16))…")
        }
        let shape = runShape(of: base.config, settings: settings)
        guard shape != base.config else { return base }
        let shaped = TransformerModel<Float>(config: shape)
        shaped.parameters.copy(from: base.parameters)
        return shaped
    }

    /// The model in `folder`, refused before its weights are read when its vocabulary is not
    /// bytes (a transformers BLOOM's 250,880 tokens would take gigabytes to load).
    public static func loadByteModel(from folder: URL) throws -> TransformerModel<Float> {
        let config = try Checkpoint.loadConfig(from: folder)
        guard config.vocabularySize == 256 else {
            throw Error(description: "\(folder.path): the base model's vocabulary has \(config.vocabularySize) tokens; prompt tuning reads bytes (256)")
        }
        return try Checkpoint.loadModel(from: folder)
    }

    /// The task of `settings` from the corpus, rendered for a model of `vocabulary`.
    public static func taskData(settings: PromptTuningSettings, vocabulary: PromptVocabulary, corpus: [UInt8]) throws -> PromptTaskData {
        let task = try PromptTask.named(settings.task, corpus: corpus, shotsPerClass: settings.shotsPerClass)
        return try PromptTaskData(task: task, template: template(for: vocabulary), time: vocabulary.base.contextLength)
    }

    /// A run's rows: the prompt vectors, the text, the separator, the label token.
    public static func template(for vocabulary: PromptVocabulary) -> PromptTemplate {
        PromptTemplate(prefix: vocabulary.promptTokens, labelTokens: vocabulary.labelTokens)
    }

    /// The trainer: `training.model` must be the base's shape.
    public static func makeRun(base: TransformerModel<Float>, settings: PromptTuningSettings, training: TrainingSettings,
                               corpus: [UInt8], dataSeed: UInt64? = nil) throws -> TrainingRun {
        guard training.model == base.config else {
            throw Error(description: "the run's model shape differs from the base model's")
        }
        let vocabulary = PromptVocabulary(base: base.config, settings: settings)
        let data = try taskData(settings: settings, vocabulary: vocabulary, corpus: corpus)
        let model = vocabulary.extend(base, promptText: promptText, labelWords: data.task.labelWords)
        return try TrainingRun(promptTuning: model, vocabulary: vocabulary, settings: training, data: data, dataSeed: dataSeed)
    }
}
