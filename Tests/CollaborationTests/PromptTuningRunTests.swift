import Crypto
import Foundation
import Testing
import Trainer
@testable import Collaboration

/// A prompt-tuning run trains and shares only its prompt and label rows; the base model it
/// names by hash stays bit for bit what it was.
@Suite struct PromptTuningRunTests {
    static let corpus: [UInt8] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/cohort/Resources/tinyshakespeare.txt")
        return [UInt8](try! Data(contentsOf: url))
    }()

    static func base() -> TransformerModel<Float> {
        let base = TransformerModel<Float>(config: ModelConfig(hiddenSize: 16, layerCount: 1, headCount: 2, contextLength: 128))
        base.initializeParameters(seed: 11)
        return base
    }

    static func settings(for base: TransformerModel<Float>) -> PromptTuningSettings {
        var settings = PromptTuningSettings(baseModelHash: BaseModelFingerprint.hash(of: base))
        settings.promptLength = 4
        settings.shotsPerClass = 8
        return settings
    }

    static func training(for base: TransformerModel<Float>) -> TrainingSettings {
        var training = TrainingSettings(model: base.config)
        training.batchSize = 4
        training.learningRate = 0.3
        training.warmupSteps = 0
        training.steps = 10
        training.validationWindows = 8
        return training
    }

    /// A peer's trainer over `base`, drawing its data with `dataSeed`.
    static func run(over base: TransformerModel<Float>, dataSeed: UInt64? = nil) throws -> TrainingRun {
        try PromptTuningSetup.makeRun(base: base, settings: settings(for: base), training: training(for: base),
                                      corpus: corpus, dataSeed: dataSeed)
    }

    @Test func trainingMovesOnlyThePromptAndLabelRowsAndKeepsTheBaseHash() throws {
        let base = Self.base()
        let settings = Self.settings(for: base)
        let run = try Self.run(over: base)
        let vocabulary = PromptVocabulary(base: base.config, settings: settings)
        let before = Array(run.model.parameters.buffer[vocabulary.trainableRange])
        let lossBefore = run.validationLoss()
        for _ in 0..<3 {
            run.computeGradients()
            run.applyUpdate()
        }
        #expect(BaseModelFingerprint.frozenHash(of: run.model, vocabulary: vocabulary) == settings.baseModelHash)
        #expect(Array(run.model.parameters.buffer[vocabulary.trainableRange]) != before)
        #expect(run.validationLoss() != lossBefore)
        #expect(run.averagingVector.count == (4 + 2) * 16)
        #expect(run.stateByteCount == 2 * (4 + 2) * 16 * 4)
        #expect(TrainingRun.stateByteCount(for: base.config, promptTuning: settings) == run.stateByteCount)
    }

    /// Lanes sum only the trained rows of their replicas' gradients; the rows must come out as
    /// one model computes them.
    @Test func lanesGiveThePromptRowsTheSameGradientAsOneModel() throws {
        let base = Self.base()
        let single = try Self.run(over: base, dataSeed: 5)
        let split = try Self.run(over: base, dataSeed: 5)
        split.lanes = 2
        #expect(abs(single.computeGradients() - split.computeGradients()) < 1e-5)
        let scale = max(SGDOptimizer.norm(of: single.averagingVector), 1e-6)
        let worst = zip(single.averagingVector.array, split.averagingVector.array).map { abs($0 - $1) }.max() ?? 0
        #expect(Double(worst) / scale < 1e-5, "worst difference \(worst) against a gradient norm of \(scale)")
    }

    @Test func peersStartFromTheSameStateAndLoadEachOthers() throws {
        let base = Self.base()
        let first = try Self.run(over: base, dataSeed: 1)
        let second = try Self.run(over: base, dataSeed: 2)
        #expect(StateSnapshot(of: first).hash == StateSnapshot(of: second).hash)
        first.computeGradients()
        first.applyUpdate()
        let trained = StateSnapshot(of: first)
        #expect(trained.hash != StateSnapshot(of: second).hash)
        trained.bytes.withUnsafeBytes { second.loadState(from: $0, step: trained.step) }
        #expect(StateSnapshot(of: second).hash == trained.hash)
    }

    /// A BLOOM folder written by transformers (no "transformer." prefix, its own config.json)
    /// is a base like ours: named by the hash of its weights, tuned without changing them.
    @Test func aTransformersBloomFolderIsABase() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TrainerTests/Fixtures/bloom-tiny")
        let loaded = try Checkpoint.loadModel(from: folder)
        var settings = PromptTuningSettings(baseModelHash: BaseModelFingerprint.hash(of: loaded))
        settings.promptLength = 2
        settings.shotsPerClass = 4
        let base = try PromptTuningSetup.loadBase(from: folder, settings: settings)
        // Rows of the label word "CORIOLANUS" (10 bytes, longer than the prompt), 96 bytes of
        // text and the separator, not the 2,048 transformers' config states.
        #expect(loaded.config.contextLength == 2048 && base.config.contextLength == 10 + 96 + 2)
        var training = TrainingSettings(model: base.config)
        training.batchSize = 2
        training.learningRate = 0.1
        let run = try PromptTuningSetup.makeRun(base: base, settings: settings, training: training, corpus: Self.corpus)
        run.computeGradients()
        run.applyUpdate()
        #expect(BaseModelFingerprint.frozenHash(of: run.model, vocabulary: PromptVocabulary(base: base.config, settings: settings))
                == settings.baseModelHash)
    }

    /// The coordinator's check before it signs: configs no peer could run are refused.
    @Test func configsNoPeerCouldRunAreRefusedBeforeSigning() throws {
        let base = Self.base()
        var settings = Self.settings(for: base)
        try PromptTuningSetup.check(settings: settings, base: base.config, corpus: Self.corpus)
        settings.shotsPerClass = 1000
        #expect(throws: PromptTask.Error.self) { try PromptTuningSetup.check(settings: settings, base: base.config, corpus: Self.corpus) }
        settings.shotsPerClass = 8
        var short = base.config
        short.positionEncoding = .learned
        short.contextLength = 64
        short.maxContextLength = 64
        #expect(throws: PromptTuningSetup.Error.self) { try PromptTuningSetup.check(settings: settings, base: short, corpus: Self.corpus) }
        short.positionEncoding = .alibi
        short.maxContextLength = 256
        #expect(PromptTuningSetup.runShape(of: short, settings: settings).contextLength == 10 + 96 + 2,
                "ALiBi runs rows longer than it was trained at")
        try PromptTuningSetup.check(settings: settings, base: short, corpus: Self.corpus)
    }

    @Test func aBaseWithAnotherHashOrVocabularyIsRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prompt-base-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let base = Self.base()
        try Checkpoint.save(model: base, optimizer: nil, to: folder)
        var settings = Self.settings(for: base)
        #expect(try BaseModelFingerprint.hash(of: PromptTuningSetup.loadBase(from: folder, settings: settings)) == settings.baseModelHash)
        settings.baseModelHash = String(repeating: "0", count: 64)
        #expect(throws: PromptTuningSetup.Error.self) { try PromptTuningSetup.loadBase(from: folder, settings: settings) }
        let words = TransformerModel<Float>(config: ModelConfig(vocabularySize: 300, hiddenSize: 16, layerCount: 1, headCount: 2, contextLength: 128))
        try Checkpoint.save(model: words, optimizer: nil, to: folder)
        settings.baseModelHash = BaseModelFingerprint.hash(of: words)
        #expect(throws: PromptTuningSetup.Error.self) { try PromptTuningSetup.loadBase(from: folder, settings: settings) }
    }

    @Test func theSignedConfigCarriesPromptTuningAndRefusesLocalSGDWithIt() throws {
        let base = Self.base()
        var config = RunConfig(name: "prompt", training: Self.training(for: base), targetBatchSize: 16)
        config.promptTuning = Self.settings(for: base)
        let signed = try SignedRunConfig(config: config, signingKey: Curve25519.Signing.PrivateKey())
        #expect(try signed.verifiedConfig().promptTuning == config.promptTuning)
        config.localSGD = LocalSGDSettings(localSteps: 4, outerLearningRate: 0.7, outerMomentum: 0.9)
        #expect(throws: RunConfig.Error(description: "run config: prompt tuning averages every step; local_steps must be 1")) {
            try config.validate()
        }
        config.localSGD = LocalSGDSettings()
        config.training.regularization.byteCorruption = 0.05
        #expect(throws: RunConfig.Error(description: "run config: prompt tuning trains without dropout, stochastic depth or byte corruption")) {
            try config.validate()
        }
        config.training.regularization = RegularizationSettings()
        config.promptTuning?.baseModelHash = "not hex"
        #expect(throws: RunConfig.Error(description: "run config: prompt_tuning: base_model_hash must be 64 lowercase hex digits")) {
            try config.validate()
        }
        var plain = config
        plain.promptTuning = nil
        #expect(!String(decoding: try plain.canonicalBytes(), as: UTF8.self).contains("prompt_tuning"))
    }
}
