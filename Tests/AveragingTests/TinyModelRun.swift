import Trainer

/// One tiny model, its SGD optimizer and a text, for tests that train through simulated rounds:
/// every peer's gradient is computed on the same parameters (the peers stay in sync), and the
/// averaged gradient updates them.
final class TinyModelRun {
    let dataset: TextDataset
    let model: TransformerModel<Float>
    let optimizer: SGDOptimizer
    private let time: Int
    /// Room for the largest batch: validation's 16 windows.
    private var tokens: [Int32]
    private var targets: [Int32]

    init(text: [UInt8], model config: ModelConfig) throws {
        dataset = try TextDataset(name: "synthetic", bytes: text, contextLength: config.contextLength)
        model = TransformerModel<Float>(config: config)
        model.initializeParameters(seed: 1)
        optimizer = SGDOptimizer(settings: SGDSettings(), layout: model.layout)
        time = config.contextLength
        tokens = Array(repeating: 0, count: 16 * time)
        targets = tokens
    }

    var parameterCount: Int { model.layout.parameterCount }

    /// Mean loss over the first 16 fixed validation windows (fewer if the split is short).
    func validationLoss() -> Double {
        let windows = dataset.validationWindowCount(time: time, limit: 16)
        return withBatch(windows) { tokens, targets in
            dataset.fillValidationBatch(tokens: tokens, targets: targets, first: 0, batch: windows, time: time, windowCount: windows)
            return model.forward(tokens: UnsafeBufferPointer(tokens), targets: UnsafeBufferPointer(targets), batch: windows, time: time)
        }
    }

    /// The gradient of the loss on `batch` training windows drawn with `generator`.
    func gradient(batch: Int, generator: inout SeededGenerator) -> [Float] {
        model.zeroGradients()
        withBatch(batch) { tokens, targets in
            dataset.fillTrainingBatch(tokens: tokens, targets: targets, batch: batch, time: time, generator: &generator)
            model.forward(tokens: UnsafeBufferPointer(tokens), targets: UnsafeBufferPointer(targets), batch: batch, time: time)
        }
        model.backward()
        return model.gradients.array
    }

    /// One SGD step (momentum 0.9, clipping at norm 1) with `averagedGradient`.
    func step(averagedGradient: UnsafeMutableBufferPointer<Float>, learningRate: Double) {
        _ = model.gradients.buffer.update(fromContentsOf: averagedGradient)
        optimizer.apply(gradients: model.gradients, to: model.parameters, rate: learningRate)
    }

    @discardableResult
    private func withBatch<Result>(
        _ batch: Int, _ body: (UnsafeMutableBufferPointer<Int32>, UnsafeMutableBufferPointer<Int32>) -> Result
    ) -> Result {
        let count = batch * time
        precondition(count <= tokens.count, "batch of \(batch) windows exceeds the room for 16")
        return tokens.withUnsafeMutableBufferPointer { tokens in
            targets.withUnsafeMutableBufferPointer { targets in
                body(UnsafeMutableBufferPointer(rebasing: tokens[0..<count]), UnsafeMutableBufferPointer(rebasing: targets[0..<count]))
            }
        }
    }
}
