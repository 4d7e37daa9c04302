import Foundation
import Testing
@testable import Trainer

/// The control encodings of the ALiBi study: their kernels, the whole model's gradients, and
/// what checkpoints and evaluation do with them.
@Suite struct PositionEncodingTests {
    static func config(_ encoding: PositionEncoding) -> ModelConfig {
        var config = ModelConfig(vocabularySize: 11, hiddenSize: 6, layerCount: 2, headCount: 3, contextLength: 5)
        config.positionEncoding = encoding
        return config
    }

    @Test func absolutePositionsBackwardMatchesFiniteDifferences() {
        var generator = SeededGenerator(seed: 4)
        let batch = 2, time = 3, c = 4, n = batch * time
        let x = GradientCheck.randomBuffer(n * c, generator: &generator)
        let table = GradientCheck.randomBuffer(time * c, generator: &generator)
        let dout = GradientCheck.randomBuffer(n * c, generator: &generator)
        let out = FlatBuffer<Double>(count: n * c)
        func loss() -> Double {
            out.copy(from: x)
            AbsolutePositions.forward(embedded: out.base, table: table.base, rows: n, time: time, channels: c)
            return GradientCheck.dot(out.base, dout.base, n * c)
        }
        let dtable = FlatBuffer<Double>(count: time * c)
        AbsolutePositions.backward(tableGradient: dtable.base, embeddedGradient: dout.base, rows: n, time: time, channels: c)
        #expect(GradientCheck.worstError(values: table.base, count: table.count, analytic: dtable.array, loss: loss) < 1e-7)
    }

    @Test func sinusoidsStartAtSineZeroAndCosineOne() {
        let table: [Double] = AbsolutePositions.sinusoidTable(time: 2, channels: 4)
        let a = AbsolutePositions.sinusoidAmplitude
        #expect(table[0] == 0 && table[1] == a && table[2] == 0 && table[3] == a)
        #expect(abs(table[4] - a * sin(1)) < 1e-15 && abs(table[6] - a * sin(0.01)) < 1e-15)
    }

    @Test(arguments: [PositionEncoding.sinusoidal, .learned])
    func wholeModelBackwardMatchesFiniteDifferences(encoding: PositionEncoding) {
        let model = ModelGradientTests.perturbedModel(config: Self.config(encoding))
        #expect(ModelGradientTests.worstGradientError(of: model) < 1e-6)
    }

    /// Against a plain PyTorch restatement of the model (scripts/reference/make_position_fixtures.py).
    @Test(arguments: ["positions-tiny-sinusoidal", "positions-tiny-learned"])
    func logitsAndLossMatchPyTorch(folderName: String) throws {
        let folder = try BloomReferenceTests.fixture(folderName)
        let reference = try BloomReferenceTests.Reference(folder: folder)
        let model = try Checkpoint.loadModel(from: folder)
        #expect(model.config.positionEncoding.rawValue == folderName.split(separator: "-").last.map(String.init))
        let (worst, loss) = reference.worstLogitErrorAndLoss(of: model)
        #expect(worst < 1e-4, "worst relative logit error \(worst)")
        #expect(abs(loss - reference.loss) / reference.loss < 1e-5, "loss \(loss) vs \(reference.loss)")
    }

    @Test func onlyTheLearnedEncodingHasAPositionTable() {
        let alibi = ParameterLayout(config: Self.config(.alibi))
        #expect(ParameterLayout(config: Self.config(.sinusoidal)) == alibi)
        let learned = ParameterLayout(config: Self.config(.learned))
        #expect(learned.parameterCount == alibi.parameterCount + 5 * 6)
        #expect(learned.tensor(named: "transformer.position_embeddings.weight")?.shape == [5, 6])
    }

    @Test(arguments: PositionEncoding.allCases)
    func checkpointRecordsTheEncoding(encoding: PositionEncoding) throws {
        let folder = try CheckpointTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var config = CheckpointTests.config
        config.positionEncoding = encoding
        let model = TransformerModel<Float>(config: config)
        model.initializeParameters(seed: 5)
        try Checkpoint.save(model: model, optimizer: nil, to: folder)
        let loaded = try Checkpoint.loadModel(from: folder)
        #expect(loaded.config.positionEncoding == encoding)
        #expect(loaded.parameters.array == model.parameters.array)
    }

    @Test func configWithoutAnEncodingIsAlibi() throws {
        let old = Data(#"{"model_type": "bloom", "vocab_size": 256, "hidden_size": 12, "n_layer": 2, "n_head": 3}"#.utf8)
        let config = try BloomConfigFile.decode(old, url: URL(fileURLWithPath: "/tmp/config.json"))
        #expect(config.positionEncoding == .alibi)
        let unknown = Data(#"{"vocab_size": 256, "hidden_size": 12, "n_layer": 2, "n_head": 3, "cohort_position_encoding": "rope"}"#.utf8)
        let error = try #require(throws: ModelConfigError.self) {
            try BloomConfigFile.decode(unknown, url: URL(fileURLWithPath: "/tmp/config.json"))
        }
        #expect(error.message == "/tmp/config.json: cohort_position_encoding rope is not one of alibi, sinusoidal, learned")
    }

    @Test func resumingWithAnotherEncodingIsRefusedInOneLine() throws {
        let folder = try CheckpointTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try TrainingRun(settings: CheckpointTests.settings(), dataset: CheckpointTests.dataset()).save(to: folder)
        var settings = CheckpointTests.settings()
        settings.model.positionEncoding = .sinusoidal
        let run = try TrainingRun(settings: settings, dataset: CheckpointTests.dataset())
        let error = try #require(throws: Checkpoint.Error.self) { try run.resume(from: folder) }
        #expect(error.description == "\(folder.path): the checkpoint uses alibi positions, this run's settings sinusoidal")
    }

    @Test func learnedPositionsRefuseLongerEvaluation() throws {
        var config = ModelConfig(hiddenSize: 8, layerCount: 1, headCount: 2, contextLength: 8)
        config.positionEncoding = .learned
        let model = TransformerModel<Float>(config: config)
        model.initializeParameters(seed: 1)
        let bytes = Array(String(repeating: "abcdefgh", count: 4).utf8)
        #expect(try Evaluation.score(model: model, bytes: bytes, context: 8).tokens == 31)
        let error = try #require(throws: Evaluation.Error.self) { try Evaluation.score(model: model, bytes: bytes, context: 16) }
        #expect(error.description.contains("learned positions exist only for the 8 positions the model was trained at"))
    }

    @Test func settingsFileChoosesTheEncoding() throws {
        let json = #"{"model": {"hidden_size": 8, "layer_count": 1, "head_count": 2, "context_length": 8, "position_encoding": "learned"}, "learning_rate": 0.1}"#
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("settings-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try TrainingSettings.load(from: url).model.positionEncoding == .learned)
    }
}
