import Foundation
import Testing
@testable import Trainer

@Suite struct CheckpointTests {
    static let config = ModelConfig(vocabularySize: 256, hiddenSize: 12, layerCount: 2, headCount: 3, contextLength: 8)

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func settings() -> TrainingSettings {
        var settings = TrainingSettings(model: config)
        settings.batchSize = 4
        settings.microBatchSize = 2
        settings.learningRate = 0.1
        settings.warmupSteps = 2
        settings.steps = 6
        return settings
    }

    static func dataset() throws -> TextDataset {
        let text = String(repeating: "To be, or not to be, that is the question. ", count: 20)
        return try TextDataset(name: "hamlet", bytes: Array(text.utf8), contextLength: config.contextLength)
    }

    @Test func savedModelLoadsBitForBit() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = TransformerModel<Float>(config: Self.config)
        model.initializeParameters(seed: 3)
        try Checkpoint.save(model: model, optimizer: nil, to: folder)
        let loaded = try Checkpoint.loadModel(from: folder)
        #expect(loaded.config == model.config)
        #expect(loaded.parameters.array == model.parameters.array)
    }

    @Test func resumingContinuesExactlyAsAnUninterruptedRun() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let straight = try TrainingRun(settings: Self.settings(), dataset: try Self.dataset())
        for _ in 0..<6 {
            straight.computeGradients()
            straight.applyUpdate()
        }
        let first = try TrainingRun(settings: Self.settings(), dataset: try Self.dataset())
        for _ in 0..<3 {
            first.computeGradients()
            first.applyUpdate()
        }
        try first.save(to: folder)
        let resumed = try TrainingRun(settings: Self.settings(), dataset: try Self.dataset())
        try resumed.resume(from: folder)
        #expect(resumed.step == 3)
        #expect(resumed.samplesSeen == 12)
        for _ in 0..<3 {
            resumed.computeGradients()
            resumed.applyUpdate()
        }
        #expect(resumed.model.parameters.array == straight.model.parameters.array)
        #expect(resumed.optimizer.momentumBuffer.array == straight.optimizer.momentumBuffer.array)
    }

    @Test func optimizerFromAnotherSaveIsRefused() throws {
        let folder = try Self.temporaryFolder(), other = try Self.temporaryFolder()
        defer {
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.removeItem(at: other)
        }
        let run = try TrainingRun(settings: Self.settings(), dataset: try Self.dataset())
        try run.save(to: folder)
        run.computeGradients()
        run.applyUpdate()
        try run.save(to: other)
        try FileManager.default.removeItem(at: folder.appendingPathComponent(Checkpoint.optimizerName))
        try FileManager.default.copyItem(at: other.appendingPathComponent(Checkpoint.optimizerName),
                                         to: folder.appendingPathComponent(Checkpoint.optimizerName))
        #expect(throws: SafeTensorsError.self) { try run.resume(from: folder) }
        do {
            try run.resume(from: folder)
        } catch {
            #expect("\(error)".contains("is from step 1 but model.safetensors is from step 0"))
        }
    }

    @Test func truncatedModelFileIsRefusedWithItsName() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = TransformerModel<Float>(config: Self.config)
        try Checkpoint.save(model: model, optimizer: nil, to: folder)
        let url = folder.appendingPathComponent(Checkpoint.modelName)
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 100).write(to: url)
        let error = try #require(throws: SafeTensorsError.self) { try Checkpoint.loadModel(from: folder) }
        #expect(error.description.hasPrefix(url.path))
        #expect(error.reason.contains("truncated"))
    }

    @Test func configWithAnotherShapeIsRefused() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Checkpoint.save(model: TransformerModel<Float>(config: Self.config), optimizer: nil, to: folder)
        var bigger = Self.config
        bigger.hiddenSize = 24
        try BloomConfigFile.encode(bigger).write(to: folder.appendingPathComponent(Checkpoint.configName))
        let error = try #require(throws: SafeTensorsError.self) { try Checkpoint.loadModel(from: folder) }
        #expect(error.reason.contains("has shape [256, 12], config.json implies [256, 24]"))
    }

    @Test func invalidConfigNamesTheField() throws {
        let url = URL(fileURLWithPath: "/tmp/config.json")
        let bad = Data(#"{"model_type": "bloom", "vocab_size": 256, "hidden_size": 10, "n_layer": 2, "n_head": 3}"#.utf8)
        let error = try #require(throws: ModelConfigError.self) { try BloomConfigFile.decode(bad, url: url) }
        #expect(error.message == "/tmp/config.json: hidden_size 10 is not divisible by n_head 3")
        let other = Data(#"{"model_type": "gpt2", "vocab_size": 256}"#.utf8)
        #expect(throws: ModelConfigError.self) { try BloomConfigFile.decode(other, url: url) }
    }

    /// The temporary file used to be `.<name>.<pid>.tmp`, opened without O_EXCL: a link planted
    /// there by another local user redirected the write into the file it points to.
    @Test func atomicWriteGoesNowhereButTheTarget() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let victim = folder.appendingPathComponent("victim")
        try Data("untouched".utf8).write(to: victim)
        let target = folder.appendingPathComponent("model.safetensors")
        let predictable = folder.appendingPathComponent(".model.safetensors.\(getpid()).tmp")
        try FileManager.default.createSymbolicLink(at: predictable, withDestinationURL: victim)
        try AtomicFile.write(Data("new content".utf8), to: target)
        #expect(try String(contentsOf: victim, encoding: .utf8) == "untouched")
        #expect(try String(contentsOf: target, encoding: .utf8) == "new content")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: predictable.path) == victim.path)
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(Set(entries) == ["victim", "model.safetensors", predictable.lastPathComponent])
    }
}

@Suite struct DataParallelLaneTests {
    @Test func lanesGiveTheSameGradientAsOneModel() throws {
        let single = try TrainingRun(settings: CheckpointTests.settings(), dataset: try CheckpointTests.dataset())
        let split = try TrainingRun(settings: CheckpointTests.settings(), dataset: try CheckpointTests.dataset())
        split.lanes = 2
        let lossSingle = single.computeGradients(), lossSplit = split.computeGradients()
        #expect(abs(lossSingle - lossSplit) < 1e-5)
        let scale = max(SGDOptimizer.norm(of: single.model.gradients), 1e-6)
        var worst: Float = 0
        for index in 0..<single.model.gradients.count {
            worst = max(worst, abs(single.model.gradients[index] - split.model.gradients[index]))
        }
        #expect(Double(worst) / scale < 1e-5, "worst difference \(worst) against a gradient norm of \(scale)")
        #expect(abs(single.validationLoss() - split.validationLoss()) < 1e-5)
    }
}
