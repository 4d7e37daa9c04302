/// What `cohort experiment temperature` measured, as written to results.json.
public struct TemperatureResults: Codable, Equatable, Sendable {
    /// Losses once a run has seen `samples` sequences (nil after it diverged).
    public struct Checkpoint: Codable, Equatable, Sendable {
        public let samples: Int
        /// Mean training loss of the steps since the previous checkpoint.
        public let trainingLoss: Double?
        public let validationLoss: Double?
    }

    /// One small-model run: its arm, loss curve and, for some, the sharpness it ended at.
    public struct Curve: Codable, Equatable, Sendable {
        public let batch: Int
        public let temperature: Double
        public let momentum: Double
        public let learningRate: Double
        public let seed: UInt64
        public let mode: String
        public let steps: Int
        public let checkpoints: [Checkpoint]
        /// Samples seen when the loss left the finite range we train in; nil if it never did.
        public let divergedAtSamples: Int?
        /// Top Hessian eigenvalue at the end on the probe batch (first seed's fixed arms only).
        public internal(set) var sharpness: HessianPowerIteration.Estimate?
        public let seconds: Double

        public var finalValidationLoss: Double? { checkpoints.last?.validationLoss }
    }

    /// B_simple measured at one point of a run.
    public struct NoiseScalePoint: Codable, Equatable, Sendable {
        public let samples: Int
        public let smallBatch: Int
        public let bigBatch: Int
        public let estimate: GradientNoiseScale
        public let simple: Double?
    }

    /// How far one batch size's seed-mean validation curve lies from the smallest batch's, against
    /// how far seeds of the same batch lie from each other.
    public struct Agreement: Codable, Equatable, Sendable {
        public let momentum: Double
        public let batch: Int
        public let learningRate: Double
        public let finalValidationMean: Double?
        public let finalValidationMin: Double?
        public let finalValidationMax: Double?
        /// Mean over checkpoints of |mean_B − mean_reference|; nil once any seed diverged.
        public let meanGapToReference: Double?
        /// Mean over checkpoints of the range (max − min) across this batch's seeds.
        public let meanSeedRange: Double?
        public let divergedSeeds: Int
    }

    /// Config S-like settings at one global batch and the 4-peer run's temperature.
    public struct StabilityRun: Codable, Equatable, Sendable {
        public let batch: Int
        public let learningRate: Double
        /// lr / (1 − μ): the step a steady gradient takes once momentum has built up.
        public let effectiveLearningRate: Double
        public let steps: Int
        public let trainingLosses: [Double]
        public let finalValidationLoss: Double?
        public let trained: Bool
        public let seconds: Double
    }

    public let experiment: String
    public let paper: String
    public let corpus: String
    public let model: String
    public let parameters: Int
    public let samplesPerRun: Int
    public let temperature: Double
    public let invariance: [Curve]
    public let agreement: [Agreement]
    public let sweep: [Curve]
    public let jitter: [Curve]
    /// The jittered runs against the fixed-batch runs at the same B, T and momentum: lr
    /// following the actual batch first, then lr following the target.
    public let jitterAgreement: [Agreement]
    public let noiseScale: [NoiseScalePoint]
    public let stabilityModel: String
    public let stabilityTemperature: Double
    public let stability: [StabilityRun]
    public let totalSeconds: Double
}
