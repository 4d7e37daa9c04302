import Testing
@testable import Trainer

/// `Evaluation.score(…, stride:)`: overlapping windows that score every byte once.
@Suite struct SlidingEvaluationTests {
    static func model() -> TransformerModel<Float> {
        let model = TransformerModel<Float>(config: ModelConfig(hiddenSize: 8, layerCount: 1, headCount: 2, contextLength: 8))
        model.initializeParameters(seed: 2)
        return model
    }

    static let bytes = Array("It was the best of times, it was the worst of times, it was the age of wisdom".utf8)

    @Test func windowsScoreEveryPredictionOnceWithTheContextTheStrideLeaves() {
        let windows = Evaluation.slidingWindows(predictions: 10, context: 4, stride: 2)
        #expect(windows.map(\.predictions) == [0..<4, 2..<6, 4..<8, 6..<10])
        #expect(windows.map(\.scored) == [0..<4, 4..<6, 6..<8, 8..<10])
        let short = Evaluation.slidingWindows(predictions: 5, context: 4, stride: 2)
        #expect(short.map(\.predictions) == [0..<4, 2..<5])
        #expect(short.map(\.scored) == [0..<4, 4..<5])
    }

    @Test func strideOfTheContextIsTheNonOverlappingEvaluation() throws {
        let model = Self.model()
        let plain = try Evaluation.score(model: model, bytes: Self.bytes, context: 8)
        let slid = try Evaluation.score(model: model, bytes: Self.bytes, context: 8, stride: 8)
        #expect(plain == slid)
        #expect(plain.tokens == Self.bytes.count - 1)
    }

    @Test func slidingScoresEveryByteOnceAndDiffersFromNonOverlapping() throws {
        let model = Self.model()
        let plain = try Evaluation.score(model: model, bytes: Self.bytes, context: 8)
        let slid = try Evaluation.score(model: model, bytes: Self.bytes, context: 8, stride: 4)
        #expect(slid.tokens == Self.bytes.count - 1)
        #expect(slid.meanLoss.isFinite && slid.meanLoss != plain.meanLoss)
    }

    @Test func strideOutsideTheContextIsRefused() {
        #expect(throws: Evaluation.Error.self) { try Evaluation.score(model: Self.model(), bytes: Self.bytes, context: 8, stride: 9) }
        #expect(throws: Evaluation.Error.self) { try Evaluation.score(model: Self.model(), bytes: Self.bytes, context: 8, stride: 0) }
    }
}
