import Trainer

extension AlibiExperiment {
    /// One model to train: its position encoding and the context it trains at.
    public struct Arm: Equatable, Sendable {
        public let encoding: PositionEncoding
        public let trainedContext: Int
        public var name: String { "\(encoding.rawValue)@\(trainedContext)" }
    }

    /// The experiment's sizes: every arm gets the same model shape, tokens per step and steps.
    public struct Plan: Sendable {
        /// Shape of every arm (context and encoding are set per arm).
        public var model: ModelConfig
        /// L: the context ALiBi and the controls train at.
        public var trainedContext: Int
        public var tokensPerStep: Int
        public var steps: Int
        public var warmupSteps: Int
        public var learningRate: Double
        public var seed: UInt64 = 1
        /// Evaluation windows as multiples of L.
        public var contextMultiples = [1, 2, 4, 8, 16]
        /// Scores only the first this many validation bytes (nil: the whole split).
        public var validationBytes: Int?
        /// The model whose forward pass over `memoryWindow` tokens has its memory measured.
        public var memoryModel: ModelConfig
        public var memoryWindow = 2048
        public var progressEvery: Int
        /// Model replicas that split each batch (`TrainingRun.lanes`); nil: one per BLAS thread.
        /// Results depend on it through the order gradients are summed in.
        public var lanes: Int?

        public var evaluationContexts: [Int] { contextMultiples.map { $0 * trainedContext } }
        var longestContext: Int { evaluationContexts.max() ?? trainedContext }

        /// ALiBi and both absolute controls at L, and sinusoids at 2L (the paper's Figure 1
        /// comparison: does ALiBi at L match a model trained at 2L?).
        public var arms: [Arm] {
            [Arm(encoding: .alibi, trainedContext: trainedContext),
             Arm(encoding: .sinusoidal, trainedContext: trainedContext),
             Arm(encoding: .learned, trainedContext: trainedContext),
             Arm(encoding: .sinusoidal, trainedContext: 2 * trainedContext)]
        }

        /// 15–30 minutes on two cores (27.5 measured while a build shared them): a 0.8 M-parameter
        /// model, 1,500 steps of 2,048 tokens.
        public static let full = Plan(
            model: ModelConfig(hiddenSize: 128, layerCount: 4, headCount: 4, contextLength: 128),
            trainedContext: 128, tokensPerStep: 2048, steps: 1500, warmupSteps: 100, learningRate: 0.5,
            memoryModel: .small, progressEvery: 100)

        /// The smoke test: the same arms and multiples of L on a smaller model, fewer steps and
        /// 32 KB of validation text (under 3 minutes).
        public static let quick = Plan(
            model: ModelConfig(hiddenSize: 64, layerCount: 2, headCount: 4, contextLength: 64),
            trainedContext: 64, tokensPerStep: 1024, steps: 500, warmupSteps: 50, learningRate: 0.5,
            validationBytes: 32 * 1024, memoryModel: .small, progressEvery: 100)

        func config(for arm: Arm) -> ModelConfig {
            var config = model
            config.contextLength = arm.trainedContext
            config.maxContextLength = max(longestContext, arm.trainedContext)
            config.positionEncoding = arm.encoding
            return config
        }
    }
}
