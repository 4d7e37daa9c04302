import Trainer

/// Gradients of the training loss on one fixed batch, in float64: the Hessian-vector products of
/// `HessianPowerIteration` difference two gradients a small step apart, which float32 would
/// drown in rounding.
final class SharpnessProbe {
    let model: TransformerModel<Double>
    private let tokens: [Int32]
    private let targets: [Int32]
    private let batch: Int

    /// `batch` training windows drawn with `seed`: the same batch for every model probed.
    init(config: ModelConfig, dataset: TextDataset, batch: Int, seed: UInt64) {
        model = TransformerModel<Double>(config: config)
        self.batch = batch
        let count = batch * config.contextLength
        var tokens = [Int32](repeating: 0, count: count), targets = [Int32](repeating: 0, count: count)
        var generator = SeededGenerator(seed: seed)
        tokens.withUnsafeMutableBufferPointer { tokenBuffer in
            targets.withUnsafeMutableBufferPointer { targetBuffer in
                dataset.fillTrainingBatch(tokens: tokenBuffer, targets: targetBuffer, batch: batch,
                                          time: config.contextLength, generator: &generator)
            }
        }
        self.tokens = tokens
        self.targets = targets
    }

    /// The mean-loss gradient on the probe's batch at `parameters`.
    func gradient(at parameters: [Double]) -> [Double] {
        precondition(parameters.count == model.parameters.count, "probe has \(model.parameters.count) parameters, got \(parameters.count)")
        for index in parameters.indices { model.parameters[index] = parameters[index] }
        model.zeroGradients()
        tokens.withUnsafeBufferPointer { tokenBuffer in
            targets.withUnsafeBufferPointer { targetBuffer in
                _ = model.forward(tokens: tokenBuffer, targets: targetBuffer, batch: batch, time: model.config.contextLength)
            }
        }
        model.backward()
        return model.gradients.array
    }

    /// Sharpness of the trained float32 parameters on the probe's batch.
    func sharpness(of parameters: FlatBuffer<Float>, iterations: Int, seed: UInt64) -> HessianPowerIteration.Estimate {
        let point = parameters.array.map(Double.init)
        return HessianPowerIteration.topEigenvalue(at: point, step: 1e-3, iterations: iterations, seed: seed, gradient: gradient)
    }
}
