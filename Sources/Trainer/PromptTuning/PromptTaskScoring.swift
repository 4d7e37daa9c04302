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

    /// Fraction of `examples` for which the model finds its class's label word likeliest after
    /// text + `separator`, each word's log-probability (summed over its bytes) taken relative to
    /// the same word's after the separator alone. Without that calibration (Zhao et al. 2021,
    /// arXiv 2102.09690) a weak model answers every example with whichever word it finds
    /// likelier anywhere, and scores exactly the share of that class.
    public static func zeroShotAccuracy(of model: TransformerModel<Float>, on examples: [PromptTask.Example],
                                        labelWords: [[UInt8]], separator: [UInt8] = PromptTemplate.defaultSeparator,
                                        time: Int) -> Double {
        let tokens = UnsafeMutableBufferPointer<Int32>.allocate(capacity: labelWords.count * time)
        defer { tokens.deallocate() }
        func scores(after context: [UInt8]) -> [Double] {
            for (row, word) in labelWords.enumerated() {
                let sequence = context + word
                precondition(sequence.count <= time, "text, separator and label word exceed rows of \(time)")
                for (t, byte) in sequence.enumerated() { tokens[row * time + t] = Int32(byte) }
                for t in sequence.count..<time { tokens[row * time + t] = Int32(separator[0]) }
            }
            let v = model.config.vocabularySize
            let logits = model.logits(tokens: UnsafeBufferPointer(tokens), batch: labelWords.count, time: time)
            return labelWords.enumerated().map { row, word in
                word.indices.reduce(0.0) { sum, k in
                    let at = (row * time + context.count + k - 1) * v
                    return sum + logProbability(of: Int(word[k]), in: UnsafeBufferPointer(rebasing: logits[at..<(at + v)]))
                }
            }
        }
        let prior = scores(after: separator)
        var correct = 0
        for example in examples {
            let calibrated = zip(scores(after: example.text + separator), prior).map { $0 - $1 }
            if calibrated.indices.max(by: { calibrated[$0] < calibrated[$1] }) == example.label { correct += 1 }
        }
        return examples.isEmpty ? 0 : Double(correct) / Double(examples.count)
    }

    static func logProbability(of token: Int, in logits: UnsafeBufferPointer<Float>) -> Double {
        let largest = Double(logits.max()!)
        let sum = logits.reduce(0.0) { $0 + exp(Double($1) - largest) }
        return Double(logits[token]) - largest - log(sum)
    }
}
