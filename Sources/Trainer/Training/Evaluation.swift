/// Scores a byte sequence with a model: mean next-byte cross-entropy over the whole sequence.
public enum Evaluation {
    public struct Result: Equatable, Sendable {
        /// Mean cross-entropy in nats per scored token.
        public let meanLoss: Double
        public let tokens: Int
    }

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// Splits `bytes` into consecutive windows of `context` + 1 bytes that share their boundary
    /// byte, so every byte after the first is predicted exactly once; a shorter final window
    /// covers the rest. A file of context + 1 bytes is one window with `context` predictions.
    public static func score(model: TransformerModel<Float>, bytes: [UInt8], context: Int, batch: Int = 8) throws -> Result {
        guard bytes.count >= 2 else { throw Error(description: "need at least 2 bytes to score, got \(bytes.count)") }
        guard context >= 1, context <= model.config.maxContextLength else {
            throw Error(description: "context \(context) must be between 1 and the model's maximum \(model.config.maxContextLength)")
        }
        guard model.config.vocabularySize >= 256 else {
            throw Error(description: "the model's vocabulary of \(model.config.vocabularySize) cannot hold every byte")
        }
        let fullWindows = (bytes.count - 1) / context
        var totalLoss = 0.0, totalTokens = 0
        var first = 0
        while first < fullWindows {
            let rows = min(batch, fullWindows - first)
            totalLoss += scoreWindows(model: model, bytes: bytes, starts: (first..<(first + rows)).map { $0 * context }, time: context)
            totalTokens += rows * context
            first += rows
        }
        let remainder = bytes.count - 1 - fullWindows * context
        if remainder > 0 {
            totalLoss += scoreWindows(model: model, bytes: bytes, starts: [fullWindows * context], time: remainder)
            totalTokens += remainder
        }
        return Result(meanLoss: totalLoss / Double(totalTokens), tokens: totalTokens)
    }

    /// Sum of losses over windows of `time` predictions starting at `starts`.
    private static func scoreWindows(model: TransformerModel<Float>, bytes: [UInt8], starts: [Int], time: Int) -> Double {
        var tokens = [Int32](), targets = [Int32]()
        tokens.reserveCapacity(starts.count * time)
        targets.reserveCapacity(starts.count * time)
        for start in starts {
            for t in 0..<time {
                tokens.append(Int32(bytes[start + t]))
                targets.append(Int32(bytes[start + t + 1]))
            }
        }
        let mean = tokens.withUnsafeBufferPointer { t in
            targets.withUnsafeBufferPointer { model.forward(tokens: t, targets: $0, batch: starts.count, time: time) }
        }
        return mean * Double(starts.count * time)
    }
}
