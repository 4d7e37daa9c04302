import Foundation
import Testing
@testable import Trainer

@Suite struct PromptTuningTests {
    static let corpusURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/cohort/Resources/tinyshakespeare.txt")

    /// Two prompt rows and two label rows after a vocabulary of 11, on the tiny model.
    static let vocabulary = PromptVocabulary(base: ModelGradientTests.tinyConfig, promptLength: 2, labelCount: 2)

    /// Checked with the blocks frozen, as prompt-tuning runs train: skipping the blocks' weight
    /// products must not change the gradient that reaches the embedding rows.
    @Test(arguments: [false, true]) func promptAndLabelRowsBackwardMatchesFiniteDifferences(freezesBlocks: Bool) {
        var config = Self.vocabulary.extendedConfig
        config.contextLength = 7
        config.maxContextLength = 7
        let model = ModelGradientTests.perturbedModel(config: config)
        model.freezesBlocks = freezesBlocks
        let template = PromptTemplate(prefix: Self.vocabulary.promptTokens, separator: [3], labelTokens: Self.vocabulary.labelTokens)
        var tokens = [Int32](repeating: 0, count: 14), targets = [Int32](repeating: 0, count: 14)
        tokens.withUnsafeMutableBufferPointer { t in
            targets.withUnsafeMutableBufferPointer { g in
                template.render(.init(text: [1, 4, 9], label: 1), row: 0, time: 7, tokens: t, targets: g)
                template.render(.init(text: [5, 2], label: 0), row: 1, time: 7, tokens: t, targets: g)
            }
        }
        func loss() -> Double {
            tokens.withUnsafeBufferPointer { t in
                targets.withUnsafeBufferPointer { model.forward(tokens: t, targets: $0, batch: 2, time: 7) }
            }
        }
        model.zeroGradients()
        _ = loss()
        model.backward()
        let window = Self.vocabulary.trainableRange
        let analytic = Array(model.gradients.buffer[window])
        #expect(analytic.contains { $0 != 0 }, "the prompt and label rows get gradients")
        let worst = GradientCheck.worstError(values: model.parameters.base + window.lowerBound, count: window.count,
                                             analytic: analytic, loss: loss)
        #expect(worst < 1e-6)
        let block = model.layout.blocks[0]
        let blockWeights = Array(model.gradients.buffer[block.qkvWeight..<(block.qkvWeight + 3 * config.hiddenSize * config.hiddenSize)])
        #expect(blockWeights.allSatisfy { $0 == 0 } == freezesBlocks)
    }

    @Test func templateScoresOnlyTheLabelAfterTheSeparator() {
        let template = PromptTemplate(prefix: [300, 301], separator: Array("\n\n".utf8), labelTokens: [302, 303])
        var tokens = [Int32](repeating: 0, count: 20), targets = [Int32](repeating: 0, count: 20)
        let scored = tokens.withUnsafeMutableBufferPointer { t in
            targets.withUnsafeMutableBufferPointer { g in
                template.render(.init(text: Array("Ay.".utf8), label: 1), row: 1, time: 10, tokens: t, targets: g)
            }
        }
        #expect(scored == 6)
        #expect(Array(tokens[10..<17]) == [300, 301, 65, 121, 46, 10, 10])
        #expect(targets[16] == 303)
        #expect(targets[10..<20].enumerated().allSatisfy { $0.offset == 6 || $0.element == -1 })
    }

    @Test func playsTaskIsBalancedDisjointAndTheSameEveryTime() throws {
        let corpus = [UInt8](try Data(contentsOf: Self.corpusURL))
        let task = try PromptTask.shakespearePlays(corpus: corpus, shotsPerClass: 16, testPerClass: 100, maxTextBytes: 96)
        #expect(task.training.count == 32 && task.test.count == 200)
        #expect(task.training.map(\.label) == (0..<32).map { $0 % 2 })
        #expect(task.test.prefix(10).map(\.label) == (0..<10).map { $0 % 2 })
        #expect(Set(task.training.map(\.text)).isDisjoint(with: Set(task.test.map(\.text))))
        #expect((task.training + task.test).allSatisfy { (24...96).contains($0.text.count) && !$0.text.contains(0) })
        #expect(task.labelWords == [Array("CORIOLANUS".utf8), Array("ROMEO".utf8)])
        let again = try PromptTask.shakespearePlays(corpus: corpus, shotsPerClass: 16, testPerClass: 100, maxTextBytes: 96)
        #expect(again == task)
        #expect(throws: PromptTask.Error.self) {
            try PromptTask.shakespearePlays(corpus: Array("ROMEO:\nHello there, my good friend.\n".utf8),
                                            shotsPerClass: 1, testPerClass: 1, maxTextBytes: 96)
        }
        #expect(throws: PromptTask.Error.self) {
            try PromptTask.named("poems", corpus: corpus, shotsPerClass: 1)
        }
    }

    @Test func extendedModelKeepsTheBaseArenaAroundTheNewRows() {
        let base = TransformerModel<Float>(config: ModelConfig(hiddenSize: 8, layerCount: 1, headCount: 2, contextLength: 16))
        base.initializeParameters(seed: 3)
        let vocabulary = PromptVocabulary(base: base.config, promptLength: 3, labelCount: 2)
        let extended = vocabulary.extend(base, promptText: Array("ab".utf8), labelWords: [Array("X".utf8), Array("Y".utf8)])
        let frozen = vocabulary.frozenRanges.flatMap { Array(extended.parameters.buffer[$0]) }
        #expect(frozen == base.parameters.array)
        func row(_ model: TransformerModel<Float>, _ token: Int) -> [Float] { Array(model.parameters.buffer[(token * 8)..<(token * 8 + 8)]) }
        #expect(row(extended, 256) == row(base, 97) && row(extended, 257) == row(base, 98) && row(extended, 258) == row(base, 97))
        #expect(row(extended, 259) == row(base, 88) && row(extended, 260) == row(base, 89))
    }

    @Test func scoringPicksExactlyOneClassPerExample() throws {
        let config = ModelConfig(hiddenSize: 8, layerCount: 1, headCount: 2, contextLength: 32)
        let model = TransformerModel<Float>(config: config)
        model.initializeParameters(seed: 5)
        let texts = ["Hark, who goes there?", "What light through yonder", "My gracious lord, the"].map { Array($0.utf8) }
        let template = PromptTemplate(prefix: [], labelTokens: [67, 82])
        let asFirst = texts.map { PromptTask.Example(text: $0, label: 0) }
        let asSecond = texts.map { PromptTask.Example(text: $0, label: 1) }
        let first = PromptTaskScoring.accuracy(of: model, on: asFirst, template: template, time: 48, batch: 2)
        let second = PromptTaskScoring.accuracy(of: model, on: asSecond, template: template, time: 48, batch: 2)
        #expect(abs(first + second - 1) < 1e-12)
        let words = [Array("CORIOLANUS".utf8), Array("ROMEO".utf8)]
        let zeroFirst = PromptTaskScoring.zeroShotAccuracy(of: model, on: asFirst, labelWords: words, time: 48)
        let zeroSecond = PromptTaskScoring.zeroShotAccuracy(of: model, on: asSecond, labelWords: words, time: 48)
        #expect(abs(zeroFirst + zeroSecond - 1) < 1e-12)
    }

    @Test func promptCheckpointRoundTripsAndRefusesAnotherBase() throws {
        let vocabulary = PromptVocabulary(base: ModelConfig(hiddenSize: 4, layerCount: 1, headCount: 1, contextLength: 8),
                                          promptLength: 2, labelCount: 2)
        let settings = PromptTuningSettings(baseModelHash: String(repeating: "ab", count: 32))
        let rows = (0..<16).map { Float($0) / 3 }, momentum = (0..<16).map { -Float($0) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("prompt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try rows.withUnsafeBufferPointer { r in
            try momentum.withUnsafeBufferPointer { m in
                try PromptCheckpoint.save(rows: r, momentum: m, step: 12, settings: settings, vocabulary: vocabulary, to: folder)
            }
        }
        #expect(try PromptCheckpoint.load(from: folder, settings: settings, vocabulary: vocabulary)
                == PromptCheckpoint.Saved(step: 12, rows: rows, momentum: momentum))
        var other = settings
        other.baseModelHash = String(repeating: "cd", count: 32)
        #expect(throws: SafeTensorsError.self) { try PromptCheckpoint.load(from: folder, settings: other, vocabulary: vocabulary) }
        let longer = PromptVocabulary(base: vocabulary.base, promptLength: 3, labelCount: 2)
        #expect(throws: SafeTensorsError.self) { try PromptCheckpoint.load(from: folder, settings: settings, vocabulary: longer) }
    }

    @Test func settingsNameWhatIsWrong() {
        var settings = PromptTuningSettings(baseModelHash: String(repeating: "0", count: 64))
        #expect(settings.problem == nil)
        settings.promptLength = 0
        #expect(settings.problem?.contains("prompt_length") == true)
        settings.promptLength = 8
        settings.baseModelHash = "ABC"
        #expect(settings.problem?.contains("base_model_hash") == true)
        settings.baseModelHash = String(repeating: "0", count: 64)
        settings.task = "poems"
        #expect(settings.problem?.contains("task") == true)
    }
}
