import Foundation
import Trainer

extension TemperatureExperiment {
    /// Trains config S-like settings at one global batch through the trainer's default path
    /// (`TrainingSettings.temperature`, warm-up, momentum, clipping), as a collaborative run
    /// with that target batch would step.
    ///
    /// It "trained" when the loss never rose half a nat above where it started and ended at
    /// least one nat below it.
    static func stabilityRun(batch: Int, plan: Plan, dataset: TextDataset, progress: (String) -> Void) throws -> TemperatureResults.StabilityRun {
        let settings = plan.stabilitySettings(batch: batch)
        let run = try TrainingRun(settings: settings, dataset: dataset)
        run.lanes = plan.lanes ?? BLASRuntime.threads
        let started = Date()
        var losses: [Double] = []
        for _ in 0..<settings.steps {
            let loss = run.computeGradients()
            run.applyUpdate()
            losses.append(loss)
            if !loss.isFinite || loss > divergenceLoss { break }
        }
        let first = losses.first ?? .nan
        let last = losses.suffix(5).reduce(0, +) / Double(min(5, losses.count))
        let trained = losses.count == settings.steps && losses.allSatisfy { $0 < first + 0.5 } && last < first - 1
        let validation = trained ? run.validationLoss() : nil
        let rate = settings.peakLearningRate
        progress(String(format: "[stability B %d] lr %.3g: training loss %.3f → %.3f over %d steps, %@ (%.0f s)", batch, rate, first,
                        losses.last ?? .nan, losses.count, trained ? "trained" : "unstable", Date().timeIntervalSince(started)))
        return TemperatureResults.StabilityRun(
            batch: batch, learningRate: rate, effectiveLearningRate: rate / (1 - settings.sgd.momentum), steps: losses.count,
            trainingLosses: losses, finalValidationLoss: validation, trained: trained, seconds: Date().timeIntervalSince(started))
    }
}
