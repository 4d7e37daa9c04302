import Foundation
import Trainer

/// Regularisation and augmentation for small data (Steiner et al., "How to train your ViT? Data,
/// augmentation, and regularization in vision transformers", TMLR 2022, Figure 1 and §4.1): with
/// little data, does regularisation plus more compute match a model trained on several times
/// more data?
///
/// Every arm trains the same model from the same initialisation on the first 10 %, 30 % or
/// 100 % of Tiny Shakespeare's training split, with and without regularisation, at 1× and 3× the
/// base steps; all are scored on the same held-out validation split.
public enum AugRegExperiment {
    public static func run(plan: Plan, corpus: [UInt8], corpusName: String, progress: (String) -> Void) throws -> AugRegResults {
        let started = Date()
        let full = try TextDataset(name: corpusName, bytes: corpus, contextLength: plan.model.contextLength)
        let validation = Array(full.validation.prefix(plan.validationBytes ?? .max))
        var arms: [AugRegResults.Arm] = []
        for arm in plan.arms {
            let dataset = try full.keepingTrainingPrefix(fraction: arm.dataFraction, contextLength: plan.model.contextLength)
            arms.append(try train(arm: arm, plan: plan, dataset: dataset, validation: validation, progress: progress))
        }
        return AugRegResults(
            experiment: "augreg", paper: "Steiner et al., How to train your ViT? (TMLR 2022)", corpus: corpusName,
            trainingBytes: full.training.count, validationBytes: validation.count,
            model: "\(plan.model.layerCount) layers, d_model \(plan.model.hiddenSize), \(plan.model.headCount) heads, context \(plan.model.contextLength)",
            parameters: plan.model.parameterCount, tokensPerStep: plan.sequencesPerStep * plan.model.contextLength,
            baseSteps: plan.baseSteps, regularization: plan.regularization, arms: arms,
            totalSeconds: Date().timeIntervalSince(started))
    }

    static func train(
        arm: Arm, plan: Plan, dataset: TextDataset, validation: [UInt8], progress: (String) -> Void
    ) throws -> AugRegResults.Arm {
        let settings = plan.settings(for: arm)
        let run = try TrainingRun(settings: settings, dataset: dataset)
        run.lanes = plan.lanes ?? BLASRuntime.threads
        let tokensPerStep = plan.sequencesPerStep * plan.model.contextLength
        let started = Date()
        var curve: [AugRegResults.CurvePoint] = []
        var recentLosses: [Double] = []
        for step in 1...settings.steps {
            recentLosses.append(run.computeGradients())
            recentLosses = recentLosses.suffix(10)
            run.applyUpdate()
            if step % plan.curveInterval == 0 || step == settings.steps {
                curve.append(AugRegResults.CurvePoint(step: step, tokens: step * tokensPerStep, validationLoss: run.validationLoss()))
            }
            if step % plan.progressEvery == 0 || step == settings.steps {
                progress(String(format: "[%@] step %d/%d: training loss %.3f, validation %.3f (%.0f s)", arm.name, step,
                                settings.steps, recentLosses.last ?? .nan, curve.last?.validationLoss ?? .nan,
                                Date().timeIntervalSince(started)))
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let context = plan.model.contextLength
        let held = try Evaluation.score(model: run.model, bytes: validation, context: context)
        let seen = try Evaluation.score(model: run.model, bytes: Array(dataset.training.prefix(validation.count)), context: context)
        progress(String(format: "[%@] held-out loss %.4f, loss on its own training bytes %.4f", arm.name, held.meanLoss, seen.meanLoss))
        return AugRegResults.Arm(
            name: arm.name, dataFraction: arm.dataFraction, trainingBytes: dataset.training.count, regularized: arm.regularized,
            computeMultiple: arm.computeMultiple, steps: settings.steps,
            epochs: Double(settings.steps * tokensPerStep) / Double(dataset.training.count),
            finalTrainingLoss: recentLosses.reduce(0, +) / Double(max(recentLosses.count, 1)),
            validationLoss: held.meanLoss, trainingSubsetLoss: seen.meanLoss, curve: curve, trainingSeconds: seconds)
    }
}
