/// Where a prompt-tuning run's trainable vectors live: new rows after the base model's
/// vocabulary, so the model runs unchanged and its tied head scores the label words.
///
/// Token ids V ..< V+P are the prompt vectors, V+P ..< V+P+L the label words (DART's
/// differentiable template and label tokens). Word embeddings come first in the arena, so the
/// new rows are one contiguous window of it; the base arena maps onto the rest unchanged, and
/// the frozen elements in order are exactly the base's parameters.
public struct PromptVocabulary: Sendable, Equatable {
    public let base: ModelConfig
    public let promptLength: Int
    public let labelCount: Int

    public init(base: ModelConfig, promptLength: Int, labelCount: Int) {
        self.base = base
        self.promptLength = promptLength
        self.labelCount = labelCount
    }

    /// The vocabulary of a run with `settings` over a base of shape `base`.
    public init(base: ModelConfig, settings: PromptTuningSettings) {
        self.init(base: base, promptLength: settings.promptLength, labelCount: PromptTask.classCount(of: settings.task))
    }

    /// The base's shape with P + L more embedding rows.
    public var extendedConfig: ModelConfig {
        var config = base
        config.vocabularySize += promptLength + labelCount
        return config
    }

    public var promptTokens: [Int32] { (0..<promptLength).map { Int32(base.vocabularySize + $0) } }
    public var labelTokens: [Int32] { (0..<labelCount).map { Int32(base.vocabularySize + promptLength + $0) } }

    /// The trainable elements of the extended arena.
    public var trainableRange: Range<Int> {
        let start = base.vocabularySize * base.hiddenSize
        return start..<(start + (promptLength + labelCount) * base.hiddenSize)
    }

    /// The extended arena's frozen elements, in the order of the base arena.
    public var frozenRanges: [Range<Int>] {
        let total = base.parameterCount + (promptLength + labelCount) * base.hiddenSize
        return [0..<trainableRange.lowerBound, trainableRange.upperBound..<total]
    }

    /// A model of `extendedConfig` holding `base`'s parameters, with each prompt row set to the
    /// embedding of a byte of `promptText` (cycled) and each label row to the embedding of its
    /// word's first byte, so training starts from what the base already reads.
    public func extend(_ model: TransformerModel<Float>, promptText: [UInt8], labelWords: [[UInt8]]) -> TransformerModel<Float> {
        precondition(model.config == base, "the base model's shape differs from the vocabulary's")
        precondition(labelWords.count == labelCount && labelWords.allSatisfy { !$0.isEmpty } && !promptText.isEmpty,
                     "prompt text and \(labelCount) non-empty label words are needed")
        let extended = TransformerModel<Float>(config: extendedConfig)
        let source = model.parameters.base, destination = extended.parameters.base
        let head = trainableRange.lowerBound
        destination.update(from: source, count: head)
        (destination + trainableRange.upperBound).update(from: source + head, count: model.parameters.count - head)
        let c = base.hiddenSize
        func setRow(_ token: Int32, toEmbeddingOf byte: UInt8) {
            precondition(Int(byte) < base.vocabularySize, "byte \(byte) is outside the base vocabulary")
            (destination + Int(token) * c).update(from: source + Int(byte) * c, count: c)
        }
        for (index, token) in promptTokens.enumerated() { setRow(token, toEmbeddingOf: promptText[index % promptText.count]) }
        for (index, token) in labelTokens.enumerated() { setRow(token, toEmbeddingOf: labelWords[index][0]) }
        return extended
    }
}
