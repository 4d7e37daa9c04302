import Foundation
import Trainer

extension TemperatureExperiment {
    /// Training loss past this (nats per byte; uniform over bytes is 5.55) or not finite ends a
    /// run as diverged: it no longer measures anything about the temperature.
    static let divergenceLoss = 10.0

    /// What a checkpoint callback may measure on the running model.
    typealias CheckpointProbe = (_ index: Int, _ samples: Int, _ parameters: FlatBuffer<Float>) -> Void

    /// Trains one arm for `plan.samples` sequences at its constant rate, recording losses every
    /// `plan.checkpointEvery` samples (under jitter at the first step past each mark).
    static func train(_ arm: Arm, plan: Plan, dataset: TextDataset, probe: CheckpointProbe = { _, _, _ in },
                      progress: (String) -> Void) throws -> (curve: TemperatureResults.Curve, run: TrainingRun) {
        let run = try TrainingRun(settings: plan.settings(for: arm), dataset: dataset)
        run.lanes = plan.lanes ?? BLASRuntime.threads
        let micro = run.settings.effectiveMicroBatchSize
        var jitter = SeededGenerator(seed: arm.seed &* 0x9E37_79B9 &+ 0x71)
        let started = Date()
        var checkpoints = [TemperatureResults.Checkpoint(samples: 0, trainingLoss: nil, validationLoss: run.validationLoss())]
        probe(0, 0, run.model.parameters)
        var lossSum = 0.0, lossSteps = 0, steps = 0, diverged: Int?
        while run.samplesSeen < plan.samples {
            let loss = step(run, arm: arm, microBatches: microBatches(arm, micro: micro, jitter: &jitter))
            steps += 1
            guard loss.isFinite && loss < divergenceLoss else {
                diverged = run.samplesSeen
                break
            }
            lossSum += loss
            lossSteps += 1
            if run.samplesSeen >= checkpoints.count * plan.checkpointEvery {
                checkpoints.append(.init(samples: run.samplesSeen, trainingLoss: lossSum / Double(lossSteps), validationLoss: run.validationLoss()))
                probe(checkpoints.count - 1, run.samplesSeen, run.model.parameters)
                (lossSum, lossSteps) = (0, 0)
                if (checkpoints.count - 1) % plan.progressEvery == 0 { report(arm, checkpoints.last!, started, progress) }
            }
        }
        if let diverged {
            progress(String(format: "[%@] diverged after %d samples", name(of: arm), diverged))
            let marks = Int((Double(plan.samples) / Double(plan.checkpointEvery)).rounded(.up))
            while checkpoints.count <= marks {
                checkpoints.append(.init(samples: checkpoints.count * plan.checkpointEvery, trainingLoss: nil, validationLoss: nil))
            }
        }
        let curve = TemperatureResults.Curve(
            batch: arm.batch, temperature: arm.temperature, momentum: arm.momentum, learningRate: arm.learningRate,
            seed: arm.seed, mode: arm.mode.rawValue, steps: steps, checkpoints: checkpoints, divergedAtSamples: diverged,
            sharpness: nil, seconds: Date().timeIntervalSince(started))
        return (curve, run)
    }

    /// Micro-batches in this step: the batch's, or under jitter a uniform draw from B to 1.5 B.
    static func microBatches(_ arm: Arm, micro: Int, jitter: inout SeededGenerator) -> Int {
        let target = arm.batch / micro
        guard arm.mode != .fixed else { return target }
        return target + Int(jitter.next() % UInt64(target / 2 + 1))
    }

    /// One SGD step at the arm's rate on `microBatches` micro-batches; returns their mean loss.
    static func step(_ run: TrainingRun, arm: Arm, microBatches: Int) -> Double {
        var loss = 0.0
        for _ in 0..<microBatches { loss += run.accumulateMicroBatch() }
        run.averageAccumulatedGradients()
        if arm.mode == .jitteredLrFollowsActual {
            // lr × (actual / target) × mean gradient = T × the gradients' sum: every sample moves
            // the parameters by T times its gradient, however many the step carried.
            let scale = Float(run.accumulatedSamples) / Float(arm.batch)
            for index in 0..<run.model.gradients.count { run.model.gradients[index] *= scale }
        }
        run.optimizer.apply(gradients: run.model.gradients, to: run.model.parameters, rate: arm.learningRate)
        run.discardAccumulatedGradients()
        return loss / Double(microBatches)
    }

    static func name(of arm: Arm) -> String {
        let mode = arm.mode == .fixed ? "" : " " + arm.mode.rawValue
        return String(format: "B %d, T %.4g, μ %.2g, seed %d%@", arm.batch, arm.temperature, arm.momentum, arm.seed, mode)
    }

    static func report(_ arm: Arm, _ checkpoint: TemperatureResults.Checkpoint, _ started: Date, _ progress: (String) -> Void) {
        progress(String(format: "[%@] %d samples: training %.3f, validation %.3f (%.0f s)", name(of: arm), checkpoint.samples,
                        checkpoint.trainingLoss ?? .nan, checkpoint.validationLoss ?? .nan, Date().timeIntervalSince(started)))
    }
}
