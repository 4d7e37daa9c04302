import Foundation
import Trainer

/// SGD's temperature T = lr / B (Bradley & Gomez-Uribe, "How can increased randomness in
/// stochastic gradient descent improve generalization?", arXiv 2108.09507): runs at the same T
/// should follow the same loss curve per sample seen whatever their batch, and a higher T
/// should settle in flatter minima. With momentum μ the temperature is lr / (B (1 − μ)).
///
/// Four sets: the invariance set (every batch at one T, several seeds, with and without
/// momentum), measuring the gradient noise scale along one of its runs; the sweep (one batch,
/// several T, sharpness at the end); batch jitter (a collaborative round's overshooting batch
/// with lr following the actual or the target batch); and config S-like stability at the
/// temperature of a 4-peer run that diverged with a larger target batch.
public enum TemperatureExperiment {
    public static func run(plan: Plan, corpus: [UInt8], corpusName: String, progress: (String) -> Void) throws -> TemperatureResults {
        let started = Date()
        let dataset = try TextDataset(name: "corpus", bytes: corpus, contextLength: plan.model.contextLength)
        let sharpnessProbe = SharpnessProbe(config: plan.model, dataset: dataset, batch: plan.hessianBatch, seed: 0x5A_A9)
        func sharpness(_ run: TrainingRun, _ curve: TemperatureResults.Curve) -> HessianPowerIteration.Estimate? {
            guard curve.divergedAtSamples == nil else { return nil }
            let estimate = sharpnessProbe.sharpness(of: run.model.parameters, iterations: plan.hessianIterations, seed: 0xE16E)
            // Heavy-ball SGD is stable while lr·λ < 2(1 + μ): the edge this sharpness is compared with.
            progress(String(format: "[B %d, T %.4g, μ %.2g] sharpness %.2f (stability edge 2(1 + μ)/lr = %.2f)", curve.batch,
                            curve.temperature, curve.momentum, estimate.eigenvalue, 2 * (1 + curve.momentum) / curve.learningRate))
            return estimate
        }

        let (invariance, noiseScale) = try invarianceSet(plan: plan, dataset: dataset, sharpness: sharpness, progress: progress)
        var sweep: [TemperatureResults.Curve] = []
        for arm in plan.sweepArms {
            if let done = invariance.first(where: { $0.matches(arm) }) {
                sweep.append(done)
                continue
            }
            var (curve, run) = try train(arm, plan: plan, dataset: dataset, progress: progress)
            curve.sharpness = sharpness(run, curve)
            sweep.append(curve)
        }
        let jitter = try plan.jitterArms.map { try train($0, plan: plan, dataset: dataset, progress: progress).curve }
        let reference = plan.batches.min() ?? plan.sweepBatch
        let invarianceAgreement = agreement(of: invariance) { momentum in invariance.filter { $0.momentum == momentum && $0.batch == reference } }
        let jitterAgreement = agreement(of: jitter) { momentum in
            invariance.filter { $0.momentum == momentum && $0.batch == plan.sweepBatch }
        }

        let stabilityData = try TextDataset(name: "corpus", bytes: corpus, contextLength: plan.stabilityModel.contextLength)
        let stability = try plan.stabilityBatches.map { try stabilityRun(batch: $0, plan: plan, dataset: stabilityData, progress: progress) }
        return TemperatureResults(
            experiment: "temperature", paper: "Bradley & Gomez-Uribe, How Can Increased Randomness in SGD Improve Generalization? (arXiv 2108.09507)",
            corpus: corpusName, model: describe(plan.model), parameters: plan.model.parameterCount, samplesPerRun: plan.samples,
            temperature: plan.temperature, invariance: invariance, agreement: invarianceAgreement, sweep: sweep, jitter: jitter,
            jitterAgreement: jitterAgreement, noiseScale: noiseScale, stabilityModel: describe(plan.stabilityModel),
            stabilityTemperature: plan.stabilityTemperature, stability: stability, totalSeconds: Date().timeIntervalSince(started))
    }

    /// Every invariance arm; the first seed's fixed arms get their sharpness measured, and the
    /// sweep batch's first-seed run at momentum 0 its noise scale at `plan.noiseCheckpoints`.
    static func invarianceSet(
        plan: Plan, dataset: TextDataset,
        sharpness: (TrainingRun, TemperatureResults.Curve) -> HessianPowerIteration.Estimate?, progress: (String) -> Void
    ) throws -> ([TemperatureResults.Curve], [TemperatureResults.NoiseScalePoint]) {
        let noiseArm = Arm(batch: plan.sweepBatch, temperature: plan.temperature, momentum: 0, seed: plan.seeds[0])
        let noiseProbe = try NoiseScaleProbe(settings: plan.settings(for: noiseArm), dataset: dataset,
                                             smallBatch: plan.noiseSmallBatch, draws: plan.noiseDraws, seed: 0x4015E)
        var noiseScale: [TemperatureResults.NoiseScalePoint] = []
        var curves: [TemperatureResults.Curve] = []
        for arm in plan.invarianceArms {
            let probe: CheckpointProbe = { index, samples, parameters in
                guard arm == noiseArm, plan.noiseCheckpoints.contains(index) else { return }
                let estimate = noiseProbe.measure(at: parameters)
                noiseScale.append(.init(samples: samples, smallBatch: noiseProbe.smallBatch, bigBatch: noiseProbe.bigBatch,
                                        estimate: estimate, simple: estimate.simple))
                progress(String(format: "[noise scale] %d samples: |G|² %.4g, tr Σ %.4g, B_simple %.1f", samples,
                                estimate.gradientNormSquared, estimate.traceCovariance, estimate.simple ?? .nan))
            }
            var (curve, run) = try train(arm, plan: plan, dataset: dataset, probe: probe, progress: progress)
            if arm.seed == plan.seeds[0] { curve.sharpness = sharpness(run, curve) }
            curves.append(curve)
        }
        return (curves, noiseScale)
    }

    static func describe(_ config: ModelConfig) -> String {
        "\(config.layerCount) layers, d_model \(config.hiddenSize), \(config.headCount) heads, context \(config.contextLength)"
    }
}

extension TemperatureResults.Curve {
    func matches(_ arm: TemperatureExperiment.Arm) -> Bool {
        batch == arm.batch && temperature == arm.temperature && momentum == arm.momentum && seed == arm.seed && mode == arm.mode.rawValue
    }
}
