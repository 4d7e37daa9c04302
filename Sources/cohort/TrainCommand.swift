import ArgumentParser
import Foundation
import Trainer

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the ALiBi transformer in this process (no collaboration).",
        discussion: """
            Settings come from --config FILE (JSON, snake_case keys as in TrainingSettings) and are \
            overridden by flags. Give either --lr or --temperature (lr = temperature × batch size).
            """)

    @Option(help: "Settings file (JSON).") var config: String?
    @Option(help: "Model preset: S or M.") var preset: String?
    @Option(help: "Training text (default: bundled Tiny Shakespeare).") var data: String?
    @Option(help: "Checkpoint folder.") var output: String = "runs/train"
    @Flag(help: "Continue from the checkpoint in --output.") var resume = false
    @Option(help: "Sequences per optimizer step.") var batch: Int?
    @Option(help: "Sequences per forward pass (gradient accumulation).") var microBatch: Int?
    @Option(help: "Context length in bytes.") var context: Int?
    @Option(help: "Peak learning rate.") var lr: Double?
    @Option(help: "lr / batch temperature; peak lr = temperature × batch.") var temperature: Double?
    @Option(help: "Optimizer steps.") var steps: Int?
    @Option(help: "Warm-up steps.") var warmup: Int?
    @Option(help: "Momentum.") var momentum: Double?
    @Flag(help: "Nesterov momentum.") var nesterov = false
    @Option(help: "Decoupled weight decay.") var weightDecay: Double?
    @Option(help: "Gradient-norm clip (0 disables).") var clip: Double?
    @Option(help: "Seed for initialisation and data order.") var seed: UInt64?
    @Option(help: "Validate every N steps.") var validateEvery: Int?
    @Option(help: "Checkpoint every N steps.") var checkpointEvery: Int?
    @Option(help: "Print progress every N steps.") var logEvery: Int = 10
    @Option(help: "Dropout on the embedding output and the residual branches, in [0, 1).") var dropout: Double?
    @Option(help: "Dropout on the attention probabilities, in [0, 1).") var attentionDropout: Double?
    @Option(help: "Stochastic depth: the last block's drop rate (earlier blocks less), in [0, 1).") var stochasticDepth: Double?
    @Option(help: "Fraction of input bytes replaced by random bytes (targets stay clean), in [0, 1).") var byteCorruption: Double?
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var deviceOptions: DeviceOptions

    func validate() throws {
        if let preset, !["S", "M"].contains(preset.uppercased()) { throw ValidationError("--preset must be S or M, got \(preset)") }
        if lr != nil && temperature != nil { throw ValidationError("give --lr or --temperature, not both") }
        if logEvery < 1 { throw ValidationError("--log-every must be at least 1") }
        let rates = [("--dropout", dropout), ("--attention-dropout", attentionDropout),
                     ("--stochastic-depth", stochasticDepth), ("--byte-corruption", byteCorruption)]
        for case let (flag, rate?) in rates where !(0..<1).contains(rate) {
            throw ValidationError("\(flag) must be in [0, 1), got \(rate)")
        }
    }

    func settings() throws -> TrainingSettings {
        var settings: TrainingSettings
        if let config {
            settings = try TrainingSettings.load(from: URL(fileURLWithPath: config))
        } else {
            settings = TrainingSettings.defaultSingleProcess
        }
        if let preset { settings.model = preset.uppercased() == "M" ? .medium : .small }
        if let context {
            settings.model.contextLength = context
            settings.model.maxContextLength = max(settings.model.maxContextLength, context)
        }
        if let batch { settings.batchSize = batch }
        if let microBatch { settings.microBatchSize = microBatch }
        if let lr { (settings.learningRate, settings.temperature) = (lr, nil) }
        if let temperature { (settings.learningRate, settings.temperature) = (nil, temperature) }
        if let steps { settings.steps = steps }
        if let warmup { settings.warmupSteps = warmup }
        if let momentum { settings.sgd.momentum = momentum }
        if nesterov { settings.sgd.nesterov = true }
        if let weightDecay { settings.sgd.weightDecay = weightDecay }
        if let clip { settings.sgd.gradientClipNorm = clip }
        if let seed { settings.seed = seed }
        if let validateEvery { settings.validationInterval = validateEvery }
        if let checkpointEvery { settings.checkpointInterval = checkpointEvery }
        if let dropout { settings.regularization.dropout = dropout }
        if let attentionDropout { settings.regularization.attentionDropout = attentionDropout }
        if let stochasticDepth { settings.regularization.stochasticDepth = stochasticDepth }
        if let byteCorruption { settings.regularization.byteCorruption = byteCorruption }
        try settings.validate()
        return settings
    }

    func run() throws {
        threadOptions.apply()
        let settings = try settings()
        if let warning = settings.temperatureWarning { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let dataURL = data.map { URL(fileURLWithPath: $0) } ?? BundledCorpus.url
        let dataset = try TextDataset(contentsOf: dataURL, validationFraction: settings.validationFraction,
                                      contextLength: settings.model.contextLength)
        let run = try TrainingRun(settings: settings, dataset: dataset)
        run.lanes = BLASRuntime.threads
        run.accelerator = try deviceOptions.accelerator(for: settings)
        // Nobody else averages this run: the optimizer's state can stay on the GPU.
        if run.accelerator != nil { try run.keepStateOnAccelerator() }
        let outputURL = URL(fileURLWithPath: output)
        if resume {
            try run.resume(from: outputURL)
            print("resumed from \(output) at step \(run.step)")
        }
        print("""
            model: \(settings.model.layerCount) layers, d_model \(settings.model.hiddenSize), \(settings.model.headCount) heads, \
            context \(settings.model.contextLength), \(formatCount(Double(run.model.parameters.count))) parameters
            data: \(dataset.name), \(formatCount(Double(dataset.training.count))) training / \
            \(formatCount(Double(dataset.validation.count))) validation bytes
            optimizer: SGD momentum \(settings.sgd.momentum)\(settings.sgd.nesterov ? " (Nesterov)" : ""), \
            peak lr \(String(format: "%.4g", settings.peakLearningRate)), batch \(settings.batchSize) × \(settings.model.contextLength), \
            \(settings.steps) steps; BLAS \(BLASRuntime.coreName) × \(BLASRuntime.threads) threads
            """)
        if settings.regularization.isEnabled { print("regularisation: \(settings.regularization.summary)") }
        try TrainingLoop(training: run, output: outputURL, logEvery: logEvery).trainToEnd()
    }
}

extension TrainingSettings {
    /// Defaults of `cohort train`: config S, tuned to pass 2.0 nats/byte on Tiny Shakespeare in minutes.
    static var defaultSingleProcess: TrainingSettings {
        var settings = TrainingSettings(model: .small)
        settings.batchSize = 16
        settings.learningRate = 0.5
        settings.warmupSteps = 100
        settings.steps = 3000
        settings.validationInterval = 250
        settings.checkpointInterval = 1000
        return settings
    }
}
