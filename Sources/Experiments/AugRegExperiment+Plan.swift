import Trainer

extension AugRegExperiment {
    /// One training run of the grid: how much of the training split it sees, whether it is
    /// regularised, and how many times the base number of steps it trains.
    public struct Arm: Equatable, Sendable {
        public let dataFraction: Double
        public let regularized: Bool
        public let computeMultiple: Int
        /// e.g. "30% reg 3×".
        public var name: String {
            "\(Int((dataFraction * 100).rounded()))% \(regularized ? "reg" : "plain") \(computeMultiple)×"
        }
    }

    /// The study's sizes: every arm has the same model, seed, batch and learning rate; only its
    /// data, regularisation and steps differ.
    public struct Plan: Sendable {
        public var model: ModelConfig
        public var sequencesPerStep: Int
        /// Steps at 1× compute; an arm at k× trains k times as many, with its own warm-up and cosine.
        public var baseSteps: Int
        public var warmupSteps: Int
        public var learningRate: Double
        public var seed: UInt64 = 1
        public var dataFractions = [0.1, 0.3, 1.0]
        public var computeMultiples = [1, 3]
        /// What "reg" arms use; "plain" arms use none.
        public var regularization: RegularizationSettings
        /// Scores only the first this many held-out bytes (nil: the whole validation split).
        public var validationBytes: Int?
        /// Validation windows of the loss curves (a fixed, evenly spaced subset of the split).
        public var curveWindows = 32
        /// A curve point every this many steps.
        public var curveInterval: Int
        public var progressEvery: Int
        /// Model replicas that split each batch (`TrainingRun.lanes`); nil: one per BLAS thread.
        /// Results depend on it only through the order gradients are summed in.
        public var lanes: Int?

        /// Data fraction × regularisation × compute, in table order.
        public var arms: [Arm] {
            dataFractions.flatMap { fraction in
                computeMultiples.flatMap { multiple in
                    [false, true].map { Arm(dataFraction: fraction, regularized: $0, computeMultiple: multiple) }
                }
            }
        }

        /// About 25 minutes on two shared cores: a 0.6 M-parameter model, 300 steps of 32 × 64
        /// bytes at 1× (about 6 passes over 10 % of the training split, 0.6 over all of it).
        public static let full = Plan(
            model: ModelConfig(hiddenSize: 128, layerCount: 3, headCount: 4, contextLength: 64),
            sequencesPerStep: 32, baseSteps: 300, warmupSteps: 30, learningRate: 0.5,
            regularization: RegularizationSettings(dropout: 0.1, stochasticDepth: 0.1, byteCorruption: 0.05),
            curveInterval: 30, progressEvery: 100)

        /// The smoke test: the same twelve arms on a smaller model with fewer steps (under 3 minutes).
        public static let quick = Plan(
            model: ModelConfig(hiddenSize: 64, layerCount: 2, headCount: 4, contextLength: 64),
            sequencesPerStep: 16, baseSteps: 60, warmupSteps: 10, learningRate: 0.5,
            regularization: RegularizationSettings(dropout: 0.1, stochasticDepth: 0.1, byteCorruption: 0.05),
            validationBytes: 32 * 1024, curveInterval: 15, progressEvery: 60)

        func settings(for arm: Arm) -> TrainingSettings {
            var settings = TrainingSettings(model: model)
            settings.batchSize = sequencesPerStep
            settings.learningRate = learningRate
            settings.warmupSteps = warmupSteps
            settings.steps = baseSteps * arm.computeMultiple
            settings.seed = seed
            settings.validationWindows = curveWindows
            if arm.regularized { settings.regularization = regularization }
            return settings
        }
    }
}
