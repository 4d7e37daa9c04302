/// What `cohort experiment alibi` measured, as written to results.json.
public struct AlibiResults: Codable, Equatable, Sendable {
    public struct Evaluation: Codable, Equatable, Sendable {
        /// Tokens per window.
        public let context: Int
        /// How far consecutive windows start apart; equal to `context` for non-overlapping windows.
        public let stride: Int
        /// Nil where the model cannot run at this context (`unavailable` says why).
        public let meanLoss: Double?
        public let perplexity: Double?
        public let tokens: Int?
        public let unavailable: String?
    }

    public struct Model: Codable, Equatable, Sendable {
        /// e.g. "alibi@128".
        public let name: String
        public let positionEncoding: String
        public let trainedContext: Int
        public let parameters: Int
        public let steps: Int
        public let sequencesPerStep: Int
        public let finalTrainingLoss: Double
        public let trainingSeconds: Double
        public let evaluations: [Evaluation]

        /// The evaluation at `context` with the given stride, if it ran.
        public func perplexity(context: Int, stride: Int) -> Double? {
            evaluations.first { $0.context == context && $0.stride == stride }?.perplexity
        }
    }

    /// Peak resident memory of one evaluation forward pass at the longest window.
    public struct Memory: Codable, Equatable, Sendable {
        public let model: String
        public let parameters: Int
        public let window: Int
        public let peakResidentMebibytes: Double
    }

    public let experiment: String
    public let paper: String
    public let corpus: String
    public let validationBytes: Int
    public let trainedContext: Int
    public let tokensPerStep: Int
    public let evaluationContexts: [Int]
    public let models: [Model]
    public let memory: Memory
    public let totalSeconds: Double
}
