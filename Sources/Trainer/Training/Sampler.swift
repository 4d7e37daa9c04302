import Foundation

/// Generates text from a model with temperature and top-k sampling.
///
/// The model runs on a fixed window of `window` positions with the text left-aligned: causal
/// attention makes the logits at the last real position independent of the padding after it,
/// so one workspace serves every step.
public struct Sampler {
    public let model: TransformerModel<Float>
    public let temperature: Double
    public let topK: Int
    public let window: Int
    /// Where the forward passes run, on `model`'s parameters; nil for the CPU.
    public let accelerator: (any TrainingAccelerator)?

    /// A `window` longer than the model can run (a learned table's rows, ALiBi's maximum) is cut to it.
    public init(model: TransformerModel<Float>, temperature: Double, topK: Int, window: Int? = nil,
                accelerator: (any TrainingAccelerator)? = nil) {
        self.model = model
        self.accelerator = accelerator
        self.temperature = temperature
        self.topK = topK
        self.window = min(window ?? model.config.contextLength, model.config.longestSequence)
    }

    /// Extends `prompt` by `count` tokens, calling `emit` with each new token.
    public func generate(prompt: [Int32], count: Int, generator: inout SeededGenerator, emit: (Int32) -> Void) {
        var text = prompt.isEmpty ? [Int32(10)] : prompt
        var input = [Int32](repeating: 0, count: window)
        let vocabulary = model.config.vocabularySize
        accelerator?.load(parameters: model.parameters)
        for _ in 0..<count {
            let visible = text.suffix(window)
            for (index, token) in visible.enumerated() { input[index] = token }
            let last = ((visible.count - 1) * vocabulary)..<(visible.count * vocabulary)
            let row = input.withUnsafeBufferPointer { input in
                if let accelerator { return Array(accelerator.logits(tokens: input, batch: 1, time: window)[last]) }
                return Array(model.logits(tokens: input, batch: 1, time: window)[last])
            }
            let next = pick(from: row, generator: &generator)
            text.append(next)
            emit(next)
        }
    }

    private func pick(from logits: [Float], generator: inout SeededGenerator) -> Int32 {
        if temperature <= 0 {
            return Int32(logits.indices.max { logits[$0] < logits[$1] }!)
        }
        let candidates = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(max(1, topK))
        let maximum = Double(logits[candidates.first!])
        let weights = candidates.map { Foundation.exp((Double(logits[$0]) - maximum) / temperature) }
        var threshold = generator.nextUnit() * weights.reduce(0, +)
        for (candidate, weight) in zip(candidates, weights) {
            threshold -= weight
            if threshold <= 0 { return Int32(candidate) }
        }
        return Int32(candidates.last!)
    }
}

