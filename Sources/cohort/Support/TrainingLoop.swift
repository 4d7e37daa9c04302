import Foundation
import Trainer

/// Drives a `TrainingRun` to its last step with progress lines, validation and checkpoints.
struct TrainingLoop {
    let training: TrainingRun
    let output: URL
    let logEvery: Int

    func trainToEnd() throws {
        let settings = training.settings
        let tokensPerStep = Double(settings.batchSize * settings.model.contextLength)
        let started = Date()
        var windowStart = Date(), windowSteps = 0, windowLoss = 0.0
        let firstStep = training.step
        if firstStep == 0 { report(validation: training.validationLoss(), elapsed: 0) }
        while training.step < settings.steps {
            let loss = training.computeGradients()
            let (rate, norm) = training.applyUpdate()
            windowSteps += 1
            windowLoss += loss
            let step = training.step
            if step % logEvery == 0 || step == settings.steps {
                let now = Date()
                let tokensPerSecond = Double(windowSteps) * tokensPerStep / now.timeIntervalSince(windowStart)
                let remaining = Double(settings.steps - step) * tokensPerStep / tokensPerSecond
                print(String(format: "step %5d/%d | loss %.4f | lr %.4f | grad norm %.2f | %@ tok/s | ETA %@",
                             step, settings.steps, windowLoss / Double(windowSteps), rate, norm,
                             formatCount(tokensPerSecond), formatDuration(remaining)))
                windowStart = now
                windowSteps = 0
                windowLoss = 0
            }
            if !loss.isFinite {
                throw TrainingDiverged(step: step)
            }
            if step % settings.validationInterval == 0 || step == settings.steps {
                report(validation: training.validationLoss(), elapsed: Date().timeIntervalSince(started))
            }
            if step % settings.checkpointInterval == 0 || step == settings.steps {
                try training.save(to: output)
                print("checkpoint: \(output.path) (step \(step))")
            }
        }
    }

    private func report(validation loss: Double, elapsed: Double) {
        print(String(format: "validation | step %d | loss %.4f nats/byte | perplexity %.2f | elapsed %@",
                     training.step, loss, exp(loss), formatDuration(elapsed)))
    }
}

struct TrainingDiverged: Error, CustomStringConvertible {
    let step: Int
    var description: String { "training diverged at step \(step): the loss is not finite; lower the learning rate or temperature" }
}
