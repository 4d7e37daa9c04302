import Foundation

/// Everything that defines a training run besides its data: model shape, batch, optimizer,
/// schedule and cadence. Read from a JSON file (snake_case keys) and/or command-line flags.
public struct TrainingSettings: Equatable, Sendable, Codable {
    public var model: ModelConfig
    /// Sequences per optimizer step: the global batch.
    public var batchSize: Int = 16
    /// Sequences per forward/backward pass; gradients accumulate over batchSize / microBatchSize
    /// passes, which bounds activation memory. Nil means the whole batch at once.
    public var microBatchSize: Int?
    /// Peak learning rate. Exactly one of this and `temperature` is set.
    public var learningRate: Double?
    /// lr / batch (Bradley & Gomez-Uribe, arXiv 2108.09507): peak lr = temperature × batchSize,
    /// so a change of global batch keeps the SGD dynamics.
    public var temperature: Double?
    public var warmupSteps: Int = 100
    public var steps: Int = 2000
    /// The cosine schedule's floor as a fraction of the peak rate.
    public var floorFraction: Double = 0.1
    public var sgd: SGDSettings = SGDSettings()
    public var seed: UInt64 = 1
    public var validationInterval: Int = 200
    public var validationWindows: Int = 64
    public var validationFraction: Double = 0.1
    public var checkpointInterval: Int = 500
    /// Dropout, stochastic depth and byte corruption; all off by default.
    public var regularization = RegularizationSettings()

    public init(model: ModelConfig) { self.model = model }

    public var effectiveMicroBatchSize: Int { microBatchSize ?? batchSize }

    public var peakLearningRate: Double {
        if let learningRate { return learningRate }
        return (temperature ?? 0) * Double(batchSize)
    }

    /// Why this temperature and batch are outside the range where config S was measured to
    /// train stably (`TemperatureRange`); nil inside it, and for an explicit learning rate.
    public var temperatureWarning: String? {
        temperature.flatMap { TemperatureRange.warning(temperature: $0, batch: batchSize, momentum: sgd.momentum, batchName: "batch") }
    }

    public var schedule: LearningRateSchedule {
        LearningRateSchedule(peak: peakLearningRate, warmupSteps: warmupSteps,
                             decaySteps: max(0, steps - warmupSteps), floorFraction: floorFraction)
    }

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Throws an error naming the first setting that is out of range or inconsistent.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw Error(description: message) }
        }
        do { try model.validate() } catch let error as ModelConfigError { throw Error(description: error.message) }
        try require(batchSize >= 1, "batch_size must be at least 1, got \(batchSize)")
        try require((1...batchSize).contains(effectiveMicroBatchSize) && batchSize % effectiveMicroBatchSize == 0,
                    "micro_batch_size \(effectiveMicroBatchSize) must divide batch_size \(batchSize)")
        try require((learningRate == nil) != (temperature == nil), "give exactly one of learning_rate and temperature")
        try require(peakLearningRate > 0 && peakLearningRate.isFinite, "the learning rate must be positive, got \(peakLearningRate)")
        try require(warmupSteps >= 0 && steps >= 1, "steps must be at least 1 and warmup_steps at least 0")
        try require((0...1).contains(floorFraction), "floor_fraction must be between 0 and 1, got \(floorFraction)")
        try require((0..<1).contains(sgd.momentum), "momentum must be in [0, 1), got \(sgd.momentum)")
        try require(sgd.weightDecay >= 0 && sgd.gradientClipNorm >= 0, "weight_decay and gradient_clip_norm must not be negative")
        try require(validationInterval >= 1 && validationWindows >= 1 && checkpointInterval >= 1,
                    "validation_interval, validation_windows and checkpoint_interval must be at least 1")
        try require(validationFraction > 0 && validationFraction < 1, "validation_fraction must be between 0 and 1")
        if let problem = regularization.problem { throw Error(description: problem) }
    }

    /// Decodes a settings file; the error names the file and what is wrong with it.
    public static func load(from url: URL) throws -> TrainingSettings {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Error(description: "\(url.path): cannot be read")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(TrainingSettings.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw Error(description: "\(url.path): missing \(Self.path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw Error(description: "\(url.path): \(Self.path(context.codingPath)) has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            throw Error(description: "\(url.path): \(context.codingPath.isEmpty ? "is not valid JSON" : Self.path(context.codingPath) + ": " + context.debugDescription)")
        } catch {
            throw Error(description: "\(url.path): \(error)")
        }
    }

    /// The keys as the file spells them (snake_case), e.g. "sgd.weight_decay".
    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { key in
            key.stringValue.reduce(into: "") { name, character in
                if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
            }
        }.joined(separator: ".")
    }
}
