import Foundation
import Testing
@testable import Trainer

@Suite struct SettingsAndDataTests {
    static func settingsFile(_ json: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-settings-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        return url
    }

    @Test func settingsFileFillsDefaultsForMissingKeys() throws {
        let url = try Self.settingsFile(#"{"model": {"hidden_size": 64, "layer_count": 2, "head_count": 2, "context_length": 32}, "temperature": 0.01, "sgd": {"nesterov": true}}"#)
        defer { try? FileManager.default.removeItem(at: url) }
        let settings = try TrainingSettings.load(from: url)
        #expect(settings.model.hiddenSize == 64)
        #expect(settings.batchSize == 16)
        #expect(settings.sgd.nesterov && settings.sgd.momentum == 0.9)
        #expect(settings.peakLearningRate == 0.16)
        try settings.validate()
    }

    @Test(arguments: [
        (#"{"learnin_rate": 0.1}"#, "learnin_rate: unknown setting"),
        (#"{"batch_size": "many"}"#, "batch_size has the wrong type"),
        (#"{"model": {"hidden_size": 64}}"#, "missing model.context_length"),
        (#"{"sgd": {"momentun": 0.5}}"#, "sgd.momentun: unknown setting"),
        ("[1, 2", "is not valid JSON"),
    ])
    func badSettingsFilesNameTheProblem(json: String, message: String) throws {
        let url = try Self.settingsFile(json)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = try #require(throws: TrainingSettings.Error.self) { try TrainingSettings.load(from: url) }
        #expect(error.description == "\(url.path): \(message)")
    }

    @Test func inconsistentSettingsAreRefused() {
        var settings = TrainingSettings(model: .small)
        #expect(throws: TrainingSettings.Error.self) { try settings.validate() }
        settings.learningRate = 0.1
        settings.temperature = 0.01
        #expect(throws: TrainingSettings.Error.self) { try settings.validate() }
        settings.temperature = nil
        settings.microBatchSize = 5
        #expect(throws: TrainingSettings.Error.self) { try settings.validate() }
    }

    @Test func scheduleWarmsUpThenDecaysToTheFloor() {
        let schedule = LearningRateSchedule(peak: 1, warmupSteps: 10, decaySteps: 100, floorFraction: 0.1)
        #expect(schedule.rate(at: 0) == 0.1)
        #expect(schedule.rate(at: 9) == 1)
        #expect(abs(schedule.rate(at: 60) - 0.55) < 1e-12)
        #expect(abs(schedule.rate(at: 110) - 0.1) < 1e-12)
        #expect(abs(schedule.rate(at: 500) - 0.1) < 1e-12)
    }

    @Test func datasetWindowsAreNextByteTargetsAndReproducible() throws {
        let bytes = Array(0..<200).map { UInt8($0) }
        let dataset = try TextDataset(name: "counting", bytes: bytes, validationFraction: 0.25, contextLength: 10)
        #expect(dataset.training.count == 150 && dataset.validation.first == 150)
        var tokens = [Int32](repeating: 0, count: 30), targets = [Int32](repeating: 0, count: 30)
        var generator = SeededGenerator(seed: 9)
        tokens.withUnsafeMutableBufferPointer { t in
            targets.withUnsafeMutableBufferPointer { dataset.fillTrainingBatch(tokens: t, targets: $0, batch: 3, time: 10, generator: &generator) }
        }
        for index in 0..<30 { #expect(targets[index] == tokens[index] + 1) }
        #expect(tokens.allSatisfy { $0 < 150 })
        var again = SeededGenerator(seed: 9)
        var tokensAgain = [Int32](repeating: 0, count: 30), targetsAgain = tokensAgain
        tokensAgain.withUnsafeMutableBufferPointer { t in
            targetsAgain.withUnsafeMutableBufferPointer { dataset.fillTrainingBatch(tokens: t, targets: $0, batch: 3, time: 10, generator: &again) }
        }
        #expect(tokensAgain == tokens)
    }

    @Test func tooSmallCorpusIsRefused() {
        #expect(throws: TextDataset.Error.self) {
            try TextDataset(name: "tiny", bytes: Array("hello".utf8), contextLength: 8)
        }
    }

    @Test func evaluationOfOneWindowScoresContextPredictions() throws {
        let model = TransformerModel<Float>(config: ModelConfig(hiddenSize: 8, layerCount: 1, headCount: 2, contextLength: 16))
        model.initializeParameters(seed: 1)
        let bytes = Array("abcdefghijklmnopq".utf8)
        let result = try Evaluation.score(model: model, bytes: bytes, context: 16)
        #expect(result.tokens == 16)
        let longer = try Evaluation.score(model: model, bytes: bytes + bytes, context: 16)
        #expect(longer.tokens == 33)
    }

    @Test func sgdMomentumMatchesTheClosedForm() {
        let layout = ParameterLayout(config: ModelConfig(vocabularySize: 2, hiddenSize: 1, layerCount: 1, headCount: 1, contextLength: 1))
        let optimizer = SGDOptimizer(settings: SGDSettings(momentum: 0.5, gradientClipNorm: 0), layout: layout)
        let parameters = FlatBuffer<Float>(count: layout.parameterCount), gradients = FlatBuffer<Float>(count: layout.parameterCount)
        for index in 0..<gradients.count { gradients[index] = 1 }
        optimizer.apply(gradients: gradients, to: parameters, rate: 0.1)
        optimizer.apply(gradients: gradients, to: parameters, rate: 0.1)
        // v1 = 1, v2 = 1.5: p = −0.1·(1 + 1.5)
        #expect(abs(parameters[0] + 0.25) < 1e-7)
    }

    @Test func clippingScalesTheGradientToTheLimit() {
        let layout = ParameterLayout(config: ModelConfig(vocabularySize: 2, hiddenSize: 1, layerCount: 1, headCount: 1, contextLength: 1))
        let optimizer = SGDOptimizer(settings: SGDSettings(momentum: 0, gradientClipNorm: 1), layout: layout)
        let parameters = FlatBuffer<Float>(count: layout.parameterCount), gradients = FlatBuffer<Float>(count: layout.parameterCount)
        for index in 0..<gradients.count { gradients[index] = 10 }
        let norm = optimizer.apply(gradients: gradients, to: parameters, rate: 1)
        #expect(abs(norm - 10 * Double(layout.parameterCount).squareRoot()) < 1e-6)
        #expect(abs(SGDOptimizer.norm(of: parameters) - 1) < 1e-6)
    }

    @Test func skippedElementsDoNotChangeTheClippingOfTheOthers() {
        // Two members of a round whose owner of elements 0..<3 failed: their averaged gradients
        // agree everywhere else, their own values in the skipped part differ.
        let layout = ParameterLayout(config: ModelConfig(vocabularySize: 2, hiddenSize: 1, layerCount: 1, headCount: 1, contextLength: 1))
        let skipped = [0..<3]
        var parameters: [FlatBuffer<Float>] = []
        for ownValue: Float in [0.5, 40] {
            let optimizer = SGDOptimizer(settings: SGDSettings(momentum: 0, gradientClipNorm: 1), layout: layout)
            let member = FlatBuffer<Float>(count: layout.parameterCount), gradients = FlatBuffer<Float>(count: layout.parameterCount)
            for index in 0..<gradients.count { gradients[index] = skipped[0].contains(index) ? ownValue : 2 }
            optimizer.apply(gradients: gradients, to: member, rate: 1, skipping: skipped)
            parameters.append(member)
        }
        for index in 0..<layout.parameterCount {
            #expect(parameters[0][index].bitPattern == parameters[1][index].bitPattern, "element \(index)")
        }
        #expect(parameters[0][0] == 0)
        #expect(abs(SGDOptimizer.norm(of: parameters[0]) - 1) < 1e-6)
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func aNonFiniteGradientChangesNeitherParametersNorMomentum(poison: Float) {
        let layout = ParameterLayout(config: ModelConfig(vocabularySize: 2, hiddenSize: 1, layerCount: 1, headCount: 1, contextLength: 1))
        let optimizer = SGDOptimizer(settings: SGDSettings(momentum: 0.9, gradientClipNorm: 0), layout: layout)
        let parameters = FlatBuffer<Float>(count: layout.parameterCount), gradients = FlatBuffer<Float>(count: layout.parameterCount)
        for index in 0..<gradients.count { gradients[index] = 1 }
        optimizer.apply(gradients: gradients, to: parameters, rate: 0.1)
        let before = (0..<parameters.count).map { parameters[$0].bitPattern }
        let momentum = (0..<parameters.count).map { optimizer.momentumBuffer[$0].bitPattern }
        gradients[1] = poison
        let norm = optimizer.apply(gradients: gradients, to: parameters, rate: 0.1)
        #expect(!norm.isFinite)
        #expect(optimizer.step == 2)
        #expect((0..<parameters.count).map { parameters[$0].bitPattern } == before)
        #expect((0..<parameters.count).map { optimizer.momentumBuffer[$0].bitPattern } == momentum)
    }
}
