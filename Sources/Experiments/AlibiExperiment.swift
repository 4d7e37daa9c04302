import Foundation
import Trainer

/// "Train short, test long" (Press et al., arXiv 2108.12409, §4): ALiBi trained at L against
/// sinusoidal and learned absolute positions trained with the same budget, and sinusoids
/// trained at 2L, scored on held-out text at L…16L.
///
/// Each arm's windows are scored twice: non-overlapping (early tokens of a window see little
/// context) and sliding with a stride of half the window (every token after the first window
/// sees at least half a window), which the paper uses to separate "uses more context" from
/// "suffers fewer cold starts" (§4, appendix B).
public enum AlibiExperiment {
    public static func run(plan: Plan, corpus: [UInt8], corpusName: String, progress: (String) -> Void) throws -> AlibiResults {
        let started = Date()
        let memory = try measureMemory(plan: plan, corpus: corpus)
        progress(String(format: "memory: a %@-parameter forward pass over %d tokens peaks at %.0f MiB resident",
                        formatCount(memory.parameters), memory.window, memory.peakResidentMebibytes))
        var models: [AlibiResults.Model] = []
        var validationCount = 0
        for arm in plan.arms {
            let run = try train(arm: arm, plan: plan, corpus: corpus, progress: progress)
            let validation = Array(run.dataset.validation.prefix(plan.validationBytes ?? .max))
            validationCount = validation.count
            let evaluations = try evaluate(run.model, arm: arm, plan: plan, validation: validation, progress: progress)
            models.append(AlibiResults.Model(
                name: arm.name, positionEncoding: arm.encoding.rawValue, trainedContext: arm.trainedContext,
                parameters: run.model.parameters.count, steps: plan.steps, sequencesPerStep: run.settings.batchSize,
                finalTrainingLoss: run.lastLoss, trainingSeconds: run.seconds, evaluations: evaluations))
        }
        return AlibiResults(
            experiment: "alibi", paper: "Press et al., Train Short, Test Long (arXiv 2108.12409)", corpus: corpusName,
            validationBytes: validationCount, trainedContext: plan.trainedContext, tokensPerStep: plan.tokensPerStep,
            evaluationContexts: plan.evaluationContexts, models: models, memory: memory,
            totalSeconds: Date().timeIntervalSince(started))
    }

    /// A trained arm: the run (model and data split), its last training loss and its time.
    struct TrainedArm {
        let run: TrainingRun
        let dataset: TextDataset
        let lastLoss: Double
        let seconds: Double
        var model: TransformerModel<Float> { run.model }
        var settings: TrainingSettings { run.settings }
    }

    static func train(arm: Arm, plan: Plan, corpus: [UInt8], progress: (String) -> Void) throws -> TrainedArm {
        var settings = TrainingSettings(model: plan.config(for: arm))
        settings.batchSize = max(1, plan.tokensPerStep / arm.trainedContext)
        settings.learningRate = plan.learningRate
        settings.warmupSteps = plan.warmupSteps
        settings.steps = plan.steps
        settings.seed = plan.seed
        let dataset = try TextDataset(name: "corpus", bytes: corpus, contextLength: arm.trainedContext)
        let run = try TrainingRun(settings: settings, dataset: dataset)
        run.lanes = plan.lanes ?? BLASRuntime.threads
        let started = Date()
        var loss = Double.nan
        for step in 1...plan.steps {
            loss = run.computeGradients()
            run.applyUpdate()
            if step % plan.progressEvery == 0 || step == plan.steps {
                progress(String(format: "[%@] step %d/%d: training loss %.3f (%.0f s)",
                                arm.name, step, plan.steps, loss, Date().timeIntervalSince(started)))
            }
        }
        return TrainedArm(run: run, dataset: dataset, lastLoss: loss, seconds: Date().timeIntervalSince(started))
    }

    static func evaluate(
        _ model: TransformerModel<Float>, arm: Arm, plan: Plan, validation: [UInt8], progress: (String) -> Void
    ) throws -> [AlibiResults.Evaluation] {
        var evaluations: [AlibiResults.Evaluation] = []
        for context in plan.evaluationContexts {
            for stride in [context, context / 2] where stride >= 1 {
                guard context <= model.config.longestSequence else {
                    evaluations.append(AlibiResults.Evaluation(
                        context: context, stride: stride, meanLoss: nil, perplexity: nil, tokens: nil,
                        unavailable: "learned positions exist only up to the trained context \(arm.trainedContext)"))
                    continue
                }
                let result = try Evaluation.score(model: model, bytes: validation, context: context, stride: stride)
                let perplexity = exp(result.meanLoss)
                evaluations.append(AlibiResults.Evaluation(
                    context: context, stride: stride, meanLoss: result.meanLoss, perplexity: perplexity,
                    tokens: result.tokens, unavailable: nil))
                progress(String(format: "[%@] context %d, stride %d: perplexity %.3f", arm.name, context, stride, perplexity))
            }
        }
        return evaluations
    }

    /// Peak resident memory of one forward pass of `plan.memoryModel` over the longest window,
    /// the attention's T² probabilities being what grows (issue: a 2,048-token window on config S).
    static func measureMemory(plan: Plan, corpus: [UInt8]) throws -> AlibiResults.Memory {
        var config = plan.memoryModel
        config.maxContextLength = max(config.maxContextLength, plan.memoryWindow)
        PeakMemory.reset()
        let model = TransformerModel<Float>(config: config)
        model.initializeParameters(seed: plan.seed)
        let window = Array(corpus.prefix(plan.memoryWindow + 1))
        _ = try Evaluation.score(model: model, bytes: window, context: plan.memoryWindow)
        return AlibiResults.Memory(
            model: "\(config.layerCount) layers, d_model \(config.hiddenSize), \(config.headCount) heads",
            parameters: model.parameters.count, window: plan.memoryWindow, peakResidentMebibytes: PeakMemory.peakMiB())
    }

    static func formatCount(_ count: Int) -> String {
        count >= 1_000_000 ? String(format: "%.2f M", Double(count) / 1e6) : String(format: "%.0f k", Double(count) / 1e3)
    }
}
