import Trainer

/// Measures `GradientNoiseScale` at a model's current parameters: `draws` gradients of
/// `smallBatch` fresh sequences each give the small-batch squared norm (their mean), and their
/// average is one gradient of `draws × smallBatch` sequences, the big batch.
///
/// It trains nothing and draws its windows from its own generator, so probing a run leaves
/// the run's data order and parameters untouched.
final class NoiseScaleProbe {
    private let run: TrainingRun
    private let draws: Int

    init(settings: TrainingSettings, dataset: TextDataset, smallBatch: Int, draws: Int, seed: UInt64) throws {
        precondition(draws >= 2, "the big batch needs at least two small ones, got \(draws)")
        var probeSettings = settings
        probeSettings.batchSize = smallBatch
        probeSettings.microBatchSize = smallBatch
        run = try TrainingRun(settings: probeSettings, dataset: dataset, dataSeed: seed)
        self.draws = draws
    }

    var smallBatch: Int { run.settings.batchSize }
    var bigBatch: Int { draws * smallBatch }

    func measure(at parameters: FlatBuffer<Float>) -> GradientNoiseScale {
        run.model.parameters.copy(from: parameters)
        var sum = [Double](repeating: 0, count: parameters.count)
        var smallNormSquared = 0.0
        for _ in 0..<draws {
            run.computeGradients()
            let gradients = run.model.gradients
            var normSquared = 0.0
            for index in 0..<gradients.count {
                let g = Double(gradients[index])
                normSquared += g * g
                sum[index] += g
            }
            smallNormSquared += normSquared / Double(draws)
            run.discardAccumulatedGradients()
        }
        let scale = 1 / Double(draws)
        let bigNormSquared = sum.reduce(0) { $0 + ($1 * scale) * ($1 * scale) }
        return GradientNoiseScale(smallBatch: smallBatch, smallNormSquared: smallNormSquared,
                                  bigBatch: bigBatch, bigNormSquared: bigNormSquared)
    }
}
