import Trainer

extension TemperatureExperiment {
    /// How a run's per-step batch and learning rate are chosen.
    public enum BatchMode: String, Codable, Sendable {
        /// Every step takes exactly the batch.
        case fixed
        /// Each step takes between the batch and 1.5 × it (a collaborative round overshooting its
        /// target); the step's mean gradient is scaled by actual / target, i.e. lr = T × actual.
        case jitteredLrFollowsActual = "jittered-lr-follows-actual"
        /// As above, but the rate stays T × target whatever the step carried.
        case jitteredLrFollowsTarget = "jittered-lr-follows-target"
    }

    /// One plain-SGD training run of the small model at a constant rate.
    public struct Arm: Equatable, Sendable {
        public var batch: Int
        public var temperature: Double
        public var momentum: Double
        public var seed: UInt64
        public var mode: BatchMode = .fixed

        /// lr = T × B × (1 − μ): with momentum the step a gradient finally takes is lr / (1 − μ).
        public var learningRate: Double { temperature * Double(batch) * (1 - momentum) }
    }

    /// The experiment's sizes. Every small-model arm trains `samples` sequences, whatever its batch.
    public struct Plan: Sendable {
        /// The small model of the invariance, temperature and batch-jitter sets.
        public var model: ModelConfig
        public var samples: Int
        /// Validation and training loss are recorded every this many samples.
        public var checkpointEvery: Int
        public var validationWindows: Int
        /// Sequences per forward pass: batches are whole micro-batches.
        public var microBatch: Int
        public var batches: [Int]
        public var seeds: [UInt64]
        /// T of the invariance sets, and the reference of the temperature sweep.
        public var temperature: Double
        /// The invariance set is run at momentum 0 and at each of these.
        public var momenta: [Double]
        /// The sweep's batch and its temperatures as multiples of `temperature`.
        public var sweepBatch: Int
        public var sweepMultiples: [Double]
        /// Noise-scale probes: small batch, how many of them make the big one, and at which
        /// checkpoints (indices into the sweep batch's first-seed, momentum-0 curve).
        public var noiseSmallBatch: Int
        public var noiseDraws: Int
        public var noiseCheckpoints: [Int]
        public var hessianBatch: Int
        public var hessianIterations: Int
        /// The stability set: config S-like settings (momentum 0.9, clip 1, warm-up 10 %) at
        /// the 4-peer run's temperature, with `stabilitySamples` sequences at each batch.
        public var stabilityModel: ModelConfig
        public var stabilityTemperature: Double
        public var stabilityBatches: [Int]
        public var stabilitySamples: Int
        public var progressEvery: Int
        /// `TrainingRun.lanes`; nil: one per BLAS thread. Results depend on it through summation order.
        public var lanes: Int?

        /// Plain SGD at one temperature: every batch and seed at momentum 0, then at each of `momenta`.
        public var invarianceArms: [Arm] {
            ([0] + momenta).flatMap { momentum in
                batches.flatMap { batch in seeds.map { Arm(batch: batch, temperature: temperature, momentum: momentum, seed: $0) } }
            }
        }

        /// The sweep batch at each multiple of T, first seed, momentum 0 (the multiple 1 is an
        /// invariance arm and is not run twice).
        public var sweepArms: [Arm] {
            sweepMultiples.map { Arm(batch: sweepBatch, temperature: temperature * $0, momentum: 0, seed: seeds[0]) }
        }

        /// Batches jittered in [B, 1.5 B] with either rate, against the fixed-batch invariance
        /// arms at the same B, T and momentum (the last of `momenta`, as collaborative runs use).
        public var jitterArms: [Arm] {
            [BatchMode.jitteredLrFollowsActual, .jitteredLrFollowsTarget].flatMap { mode in
                seeds.map { Arm(batch: sweepBatch, temperature: temperature, momentum: momenta.last ?? 0, seed: $0, mode: mode) }
            }
        }

        /// 34 minutes on two cores shared with other builds (15 for the 0.1 M-parameter model,
        /// 2 layers, d_model 64, context 64, at 8,192 sequences per arm; 18 for config S at the
        /// 4-peer run's temperature).
        public static let full = Plan(
            model: ModelConfig(hiddenSize: 64, layerCount: 2, headCount: 4, contextLength: 64),
            samples: 8192, checkpointEvery: 512, validationWindows: 64, microBatch: 8,
            batches: [8, 16, 32, 64, 128], seeds: [1, 2, 3], temperature: 1.0 / 64, momenta: [0.9],
            sweepBatch: 32, sweepMultiples: [0.25, 0.5, 1, 2, 4, 8],
            noiseSmallBatch: 8, noiseDraws: 32, noiseCheckpoints: [0, 2, 4, 8, 16], hessianBatch: 32, hessianIterations: 20,
            stabilityModel: .small, stabilityTemperature: 0.02, stabilityBatches: [8, 16, 24, 32, 48, 64],
            stabilitySamples: 3072, progressEvery: 8)

        /// The smoke test: every set on a 1-layer, d_model 32 model, with fewer batches, seeds and samples.
        public static let quick = Plan(
            model: ModelConfig(hiddenSize: 32, layerCount: 1, headCount: 2, contextLength: 32),
            samples: 1024, checkpointEvery: 128, validationWindows: 32, microBatch: 8,
            batches: [8, 32, 128], seeds: [1, 2], temperature: 1.0 / 32, momenta: [0.9],
            sweepBatch: 32, sweepMultiples: [0.5, 1, 4],
            noiseSmallBatch: 8, noiseDraws: 8, noiseCheckpoints: [0, 8], hessianBatch: 8, hessianIterations: 8,
            stabilityModel: ModelConfig(hiddenSize: 64, layerCount: 2, headCount: 4, contextLength: 64),
            stabilityTemperature: 0.02, stabilityBatches: [8, 32, 64], stabilitySamples: 256, progressEvery: 4)

        /// Settings of a small-model arm: plain SGD, no clipping (clipping would cap the step
        /// whatever T says), constant rate (the rate is passed to every step).
        func settings(for arm: Arm) -> TrainingSettings {
            var settings = TrainingSettings(model: model)
            settings.batchSize = arm.batch
            settings.microBatchSize = min(microBatch, arm.batch)
            settings.learningRate = arm.learningRate
            settings.warmupSteps = 0
            settings.steps = samples
            settings.sgd = SGDSettings(momentum: arm.momentum, gradientClipNorm: 0)
            settings.seed = arm.seed
            settings.validationWindows = validationWindows
            return settings
        }

        /// Settings of a stability run: what a collaborative run on config S gets by default,
        /// lr = T × B with momentum 0.9, gradient clipping at 1, warm-up over the first 10 % of steps.
        func stabilitySettings(batch: Int) -> TrainingSettings {
            var settings = TrainingSettings(model: stabilityModel)
            settings.batchSize = batch
            settings.microBatchSize = min(microBatch, batch)
            settings.temperature = stabilityTemperature
            settings.steps = max(1, stabilitySamples / batch)
            settings.warmupSteps = max(2, settings.steps / 10)
            settings.validationWindows = validationWindows
            return settings
        }
    }
}
