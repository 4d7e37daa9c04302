import Foundation

/// Accuracy on a prompt task: with a template, the class whose label token scores highest at
/// the scored position; zero-shot, the class whose label word the plain model finds likeliest
/// after the text and separator.
public enum PromptTaskScoring {
    /// Fraction of `examples` whose label token has the highest logit among the classes'.
    public static func accuracy(of model: TransformerModel<Float>, on examples: [PromptTask.Example],
                                template: PromptTemplate, time: Int, batch: Int = 16) -> Double {
        let tokens = UnsafeMutableBufferPointer<Int32>.allocate(capacity: batch * time)
        let targets = UnsafeMutableBufferPointer<Int32>.allocate(capacity: batch * time)
        defer { tokens.deallocate(); targets.deallocate() }
        let v = model.config.vocabularySize
        var correct = 0
        for first in stride(from: 0, to: examples.count, by: batch) {
            let rows = min(batch, examples.count - first)
            var scored: [Int] = []
            for row in 0..<rows {
                scored.append(template.render(examples[first + row], row: row, time: time, tokens: tokens, targets: targets))
            }
            let logits = model.logits(tokens: UnsafeBufferPointer(rebasing: tokens[..<(rows * time)]), batch: rows, time: time)
            for row in 0..<rows {
                let at = (row * time + scored[row]) * v
                let predicted = template.labelTokens.indices.max { logits[at + Int(template.labelTokens[$0])] < logits[at + Int(template.labelTokens[$1])] }!
                if predicted == examples[first + row].label { correct += 1 }
            }
        }
        return examples.isEmpty ? 0 : Double(correct) / Double(examples.count)
    }

    /// Fraction of `examples` for which the model gives its class's label word the highest
    /// log-probability (summed over the word's bytes) after text + `separator`.
    public static func zeroShotAccuracy(of model: TransformerModel<Float>, on examples: [PromptTask.Example],
                                        labelWords: [[UInt8]], separator: [UInt8] = PromptTemplate.defaultSeparator,
                                        time: Int) -> Double {
        let tokens = UnsafeMutableBufferPointer<Int32>.allocate(capacity: labelWords.count * time)
        defer { tokens.deallocate() }
        let v = model.config.vocabularySize
        var correct = 0
        for example in examples {
            let context = example.text + separator
            for (row, word) in labelWords.enumerated() {
                let sequence = (context + word).suffix(time)
                precondition(sequence.count == context.count + word.count, "text, separator and label word exceed rows of \(time)")
                for (t, byte) in sequence.enumerated() { tokens[row * time + t] = Int32(byte) }
                for t in sequence.count..<time { tokens[row * time + t] = Int32(separator[0]) }
            }
            let logits = model.logits(tokens: UnsafeBufferPointer(tokens), batch: labelWords.count, time: time)
            let scores = labelWords.enumerated().map { row, word in
                word.indices.reduce(0.0) { sum, k in
                    let at = (row * time + context.count + k - 1) * v
                    return sum + logProbability(of: Int(word[k]), in: UnsafeBufferPointer(rebasing: logits[at..<(at + v)]))
                }
            }
            if scores.indices.max(by: { scores[$0] < scores[$1] }) == example.label { correct += 1 }
        }
        return examples.isEmpty ? 0 : Double(correct) / Double(examples.count)
    }

    static func logProbability(of token: Int, in logits: UnsafeBufferPointer<Float>) -> Double {
        let largest = Double(logits.max()!)
        let sum = logits.reduce(0.0) { $0 + exp(Double($1) - largest) }
        return Double(logits[token]) - largest - log(sum)
    }
}
