/// Scores a byte sequence with a model: mean next-byte cross-entropy over the whole sequence.
///
/// Prediction p (0 ≤ p < bytes.count − 1) is of bytes[p + 1]. Both ways of scoring predict
/// every byte after the first exactly once; they differ in how much context each prediction sees.
public enum Evaluation {
    public struct Result: Equatable, Sendable {
        /// Mean cross-entropy in nats per scored token.
        public let meanLoss: Double
        public let tokens: Int
    }

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// Rows of one forward pass: windows are batched up to this many tokens, which bounds the
    /// attention probabilities kept per layer (B·NH·T² scalars) at long contexts.
    static let tokensPerPass = 2048

    /// Non-overlapping windows of `context` predictions: the first prediction of each window
    /// sees no context, the last sees `context` − 1 bytes. A shorter final window covers the rest.
    public static func score(model: TransformerModel<Float>, bytes: [UInt8], context: Int) throws -> Result {
        try score(model: model, bytes: bytes, context: context, stride: context)
    }

    /// Sliding windows of `context` predictions whose starts advance by `stride` (Press et al.,
    /// arXiv 2108.12409, §4 and appendix B): the first window scores all its predictions, every
    /// later one only the predictions that no earlier window scored, so each of those sees at
    /// least `context` − `stride` bytes of context. `stride` = `context` is the non-overlapping
    /// evaluation. With an `accelerator` the forward passes run there, on `model`'s parameters.
    public static func score(model: TransformerModel<Float>, bytes: [UInt8], context: Int, stride: Int,
                             accelerator: (any TrainingAccelerator)? = nil) throws -> Result {
        try check(model: model, bytes: bytes, context: context)
        accelerator?.load(parameters: model.parameters)
        guard (1...context).contains(stride) else {
            throw Error(description: "stride \(stride) must be between 1 and the context \(context)")
        }
        let windows = slidingWindows(predictions: bytes.count - 1, context: context, stride: stride)
        var totalLoss = 0.0, totalTokens = 0
        var first = 0
        while first < windows.count {
            let time = windows[first].predictions.count
            var last = first + 1
            while last < windows.count, last - first < max(1, tokensPerPass / time),
                  windows[last].predictions.count == time { last += 1 }
            totalLoss += scoreWindows(model: model, accelerator: accelerator, bytes: bytes, windows: windows[first..<last],
                                      time: time)
            totalTokens += windows[first..<last].reduce(0) { $0 + $1.scored.count }
            first = last
        }
        return Result(meanLoss: totalLoss / Double(totalTokens), tokens: totalTokens)
    }

    /// One forward window: the predictions it runs and the ones it scores (a suffix of them).
    struct Window: Equatable {
        let predictions: Range<Int>
        let scored: Range<Int>
    }

    static func slidingWindows(predictions count: Int, context: Int, stride: Int) -> [Window] {
        var windows: [Window] = []
        var start = 0, scoredUpTo = 0
        while scoredUpTo < count {
            let end = min(start + context, count)
            windows.append(Window(predictions: start..<end, scored: scoredUpTo..<end))
            scoredUpTo = end
            start += stride
        }
        return windows
    }

    private static func check(model: TransformerModel<Float>, bytes: [UInt8], context: Int) throws {
        guard bytes.count >= 2 else { throw Error(description: "need at least 2 bytes to score, got \(bytes.count)") }
        let config = model.config
        if config.positionEncoding == .learned, context > config.contextLength {
            throw Error(description: "learned positions exist only for the \(config.contextLength) positions the model was trained at; cannot score at context \(context)")
        }
        guard context >= 1, context <= config.maxContextLength else {
            throw Error(description: "context \(context) must be between 1 and the model's maximum \(config.maxContextLength)")
        }
        guard config.vocabularySize >= 256 else {
            throw Error(description: "the model's vocabulary of \(config.vocabularySize) cannot hold every byte")
        }
    }

    /// Sum of the scored losses of windows that all run `time` predictions.
    private static func scoreWindows(model: TransformerModel<Float>, accelerator: (any TrainingAccelerator)?, bytes: [UInt8],
                                     windows: ArraySlice<Window>, time: Int) -> Double {
        var tokens = [Int32](), targets = [Int32]()
        tokens.reserveCapacity(windows.count * time)
        targets.reserveCapacity(windows.count * time)
        var scored = 0
        for window in windows {
            for p in window.predictions {
                tokens.append(Int32(bytes[p]))
                // A negative target is run for context but not scored.
                targets.append(window.scored.contains(p) ? Int32(bytes[p + 1]) : -1)
            }
            scored += window.scored.count
        }
        let mean = tokens.withUnsafeBufferPointer { t in
            targets.withUnsafeBufferPointer { targets in
                accelerator?.loss(tokens: t, targets: targets, batch: windows.count, time: time)
                    ?? model.forward(tokens: t, targets: targets, batch: windows.count, time: time)
            }
        }
        return mean * Double(scored)
    }
}
