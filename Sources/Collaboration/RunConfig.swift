import Averaging
import Crypto
import Foundation
import Trainer

/// A collaborative run's definition, created and signed by its coordinator and read by every
/// peer from the DHT. A peer refuses a config whose signature does not verify.
public struct RunConfig: Equatable, Sendable, Codable {
    public enum Compression: String, Sendable, Codable, CaseIterable {
        case none, float16, int8
    }

    public var name: String
    /// Model, optimizer and schedule. `training.batchSize` is each peer's micro-batch (sequences
    /// per forward pass); `targetBatchSize` is the global batch the run averages over.
    public var training: TrainingSettings
    /// Sequences the whole run accumulates per optimizer step.
    public var targetBatchSize: Int
    public var compression: Compression = .none
    /// What the run trains on. `RunConfig.bundledDataset` is the text shipped with Cohort; any
    /// other name tells volunteers to bring their own shard of that data (`cohort peer --data`).
    public var dataset: String = RunConfig.bundledDataset
    public static let bundledDataset = "tinyshakespeare"
    /// Seconds a round may take before its slow members are left out.
    public var averagingTimeoutSeconds: Double = 30
    /// Seconds peers wait for others to declare a step before averaging alone.
    public var matchmakingSeconds: Double = 5
    /// How owners combine gradients: the mean, or a robust aggregation when Byzantine peers are
    /// expected (docs/operations.md, "Choosing the aggregation"). Configs written before this
    /// field existed decode with the mean.
    public var aggregation: Aggregation = .mean
    /// Inner steps per averaging round and the outer optimizer (local SGD, DiLoCo). One local
    /// step, the default and what configs without this field mean, averages every step.
    public var localSGD = LocalSGDSettings()
    /// Whether members carry what compression took from their contribution into the next round
    /// (`ErrorFeedback`); only with a compressing codec. Off by default and in older configs.
    public var errorFeedback = false
    /// Set for a prompt-tuning run: `training.model` is then the frozen base's shape and only
    /// the prompt and label rows train (`PromptTuningSetup`). Absent in older configs.
    public var promptTuning: PromptTuningSettings?
    /// How peers split their progress records and state announcements over DHT keys
    /// (`RunShards`): one shard, the default and what older configs mean, keeps one key each.
    public var shards: RunShards {
        get { severalShards ?? .one }
        set { severalShards = newValue.isSharded ? newValue : nil }
    }
    /// `shards` when there are several: absent from the JSON of a run of one shard, so that its
    /// canonical bytes are those of coordinators before shards.
    private var severalShards: RunShards?

    public init(name: String, training: TrainingSettings, targetBatchSize: Int) {
        self.name = name
        self.training = training
        self.targetBatchSize = targetBatchSize
    }

    /// Peak learning rate: a temperature T gives lr = T × the global batch (arXiv 2108.09507).
    public var peakLearningRate: Double {
        if let rate = training.learningRate { return rate }
        return (training.temperature ?? 0) * Double(targetBatchSize)
    }

    /// Why the run's temperature and target batch are outside the range where config S was
    /// measured to train stably (`TemperatureRange`); nil inside it, and for an explicit rate.
    public var temperatureWarning: String? {
        training.temperature.flatMap {
            TemperatureRange.warning(temperature: $0, batch: targetBatchSize, momentum: training.sgd.momentum, batchName: "target batch")
        }
    }

    /// What a round's averaged mean gradient is multiplied by so that the step is lr = T × the
    /// round's actual `samples` rather than T × the target batch (the peak rate the schedule
    /// scales): samples / target. `cohort experiment temperature` measured a batch jittered in
    /// [B, 1.5 B] to follow the fixed-batch curve only this way (docs/science.md, "SGD
    /// temperature"). Nil when there is nothing to scale: an explicit learning rate, local SGD
    /// (its rounds average pseudo-gradients whose inner steps took the rate already), or a
    /// round of exactly the target. Every member computes it from the round's plan
    /// (`AllReduceResult.plannedSamples`), which they share, and float multiplication is the same
    /// everywhere, so their states stay equal. At most `maxRoundGradientScale`: declared samples
    /// are claims, and a group of identities declaring many would otherwise choose the rate.
    public func roundGradientScale(samples: Int, localSGD: Bool) -> Float? {
        guard training.temperature != nil, !localSGD, samples > 0, samples != targetBatchSize else { return nil }
        return Float(min(Double(samples) / Double(targetBatchSize), Self.maxRoundGradientScale))
    }

    /// The largest factor a round's samples may raise the rate by: a round of twice the target.
    public static let maxRoundGradientScale = 2.0

    /// Sequences the run trains between two averaging rounds: the target batch, times the
    /// local steps per round under local SGD (a fragment's share of them when streaming).
    public var samplesPerRound: Int { targetBatchSize * localSGD.localStepsPerRound }

    /// Whether `name` is a valid run name: 1–64 bytes of letters, digits, '-', '_' or '.'.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
    }

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw Error(description: "run config: " + message) }
        }
        try require(Self.isValidName(name), "name \"\(name)\" must be 1–64 letters, digits, '-', '_' or '.'")
        do { try training.validate() } catch { throw Error(description: "run config: \(error)") }
        try require(targetBatchSize >= training.batchSize, "target_batch_size \(targetBatchSize) is smaller than the micro-batch \(training.batchSize)")
        try require(!dataset.isEmpty && dataset.utf8.count <= 256, "dataset name must be 1–256 bytes")
        try require(targetBatchSize <= 1 << 24, "target_batch_size \(targetBatchSize) exceeds 16777216")
        try require(averagingTimeoutSeconds > 0 && averagingTimeoutSeconds <= 3600, "averaging_timeout_seconds must be in (0, 3600]")
        try require(matchmakingSeconds > 0 && matchmakingSeconds <= 600, "matchmaking_seconds must be in (0, 600]")
        if let problem = aggregation.problem { throw Error(description: "run config: aggregation: \(problem)") }
        if let problem = localSGD.problem { throw Error(description: "run config: local_sgd: \(problem)") }
        try require(!errorFeedback || compression != .none, "error_feedback needs a compression (float16 or int8)")
        if let promptTuning {
            if let problem = promptTuning.problem { throw Error(description: "run config: prompt_tuning: \(problem)") }
            try require(localSGD.localSteps == 1, "prompt tuning averages every step; local_steps must be 1")
            try require(training.model.vocabularySize == 256, "prompt tuning reads bytes: the base model's vocab_size must be 256")
            try require(!training.regularization.isEnabled, "prompt tuning trains without dropout, stochastic depth or byte corruption")
        }
        try require(samplesPerRound <= 1 << 30,
                    "target_batch_size × local_steps is \(samplesPerRound) samples per round; at most 1073741824")
    }

    enum CodingKeys: String, CodingKey {
        case name, training, targetBatchSize, compression, dataset, averagingTimeoutSeconds, matchmakingSeconds, aggregation
        case localSGD = "localSgd"
        case errorFeedback, promptTuning
        case severalShards = "shards"
    }

    /// Fields with a default may be missing, so configs signed by older coordinators still decode.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        training = try container.decode(TrainingSettings.self, forKey: .training)
        targetBatchSize = try container.decode(Int.self, forKey: .targetBatchSize)
        compression = try container.decodeIfPresent(Compression.self, forKey: .compression) ?? compression
        dataset = try container.decodeIfPresent(String.self, forKey: .dataset) ?? dataset
        averagingTimeoutSeconds = try container.decodeIfPresent(Double.self, forKey: .averagingTimeoutSeconds) ?? averagingTimeoutSeconds
        matchmakingSeconds = try container.decodeIfPresent(Double.self, forKey: .matchmakingSeconds) ?? matchmakingSeconds
        aggregation = try container.decodeIfPresent(Aggregation.self, forKey: .aggregation) ?? aggregation
        localSGD = try container.decodeIfPresent(LocalSGDSettings.self, forKey: .localSGD) ?? localSGD
        errorFeedback = try container.decodeIfPresent(Bool.self, forKey: .errorFeedback) ?? errorFeedback
        promptTuning = try container.decodeIfPresent(PromptTuningSettings.self, forKey: .promptTuning)
        shards = try container.decodeIfPresent(RunShards.self, forKey: .severalShards) ?? .one
    }

    /// Canonical bytes: sorted-key JSON, the same on every platform, so signatures verify everywhere.
    public func canonicalBytes() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    public static func decode(_ bytes: [UInt8]) throws -> RunConfig {
        guard bytes.count <= 64 * 1024 else { throw Error(description: "run config is \(bytes.count) bytes, more than 64 KiB") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config: RunConfig
        do {
            config = try decoder.decode(RunConfig.self, from: Data(bytes))
        } catch {
            throw Error(description: "run config is not valid: \(error)")
        }
        try config.validate()
        return config
    }
}

/// A run config with the coordinator's Ed25519 signature over its canonical bytes.
public struct SignedRunConfig: Equatable, Sendable {
    public static let domain = Array("cohort-run-config-v1".utf8)
    public let configBytes: [UInt8]
    public let coordinatorPublicKey: [UInt8]
    public let signature: [UInt8]

    public init(config: RunConfig, signingKey: Curve25519.Signing.PrivateKey) throws {
        try config.validate()
        configBytes = try config.canonicalBytes()
        coordinatorPublicKey = Array(signingKey.publicKey.rawRepresentation)
        signature = Array(try signingKey.signature(for: Self.domain + configBytes))
    }

    /// Encoded as public key (32) · signature (64) · config bytes.
    public var encoded: [UInt8] { coordinatorPublicKey + signature + configBytes }

    public init(decoding bytes: [UInt8]) throws {
        guard bytes.count > 96 else { throw RunConfig.Error(description: "signed run config is truncated (\(bytes.count) bytes)") }
        coordinatorPublicKey = Array(bytes[0..<32])
        signature = Array(bytes[32..<96])
        configBytes = Array(bytes[96...])
    }

    /// The config, after checking the signature and, when given, the expected coordinator key.
    public func verifiedConfig(expectedCoordinator: [UInt8]? = nil) throws -> RunConfig {
        if let expectedCoordinator, expectedCoordinator != coordinatorPublicKey {
            throw RunConfig.Error(description: "run config is signed by another key than the coordinator's")
        }
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: coordinatorPublicKey),
              key.isValidSignature(signature, for: Self.domain + configBytes) else {
            throw RunConfig.Error(description: "run config signature does not verify")
        }
        return try RunConfig.decode(configBytes)
    }
}
