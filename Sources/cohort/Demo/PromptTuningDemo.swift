import Collaboration
import Foundation
import Trainer

/// What `cohort demo --prompt-tuning` adds to the demo: a frozen base model (trained here
/// unless given), the bundled task, and the baselines the collaborative prompt is compared to.
struct PromptTuningDemo {
    let baseFolder: URL
    let base: TransformerModel<Float>
    let settings: PromptTuningSettings
    let corpus: [UInt8]
    let task: PromptTask

    /// Loads the base in `baseFolder`, or trains config S for `baseSteps` steps into
    /// `folder/base` when none is given.
    init(folder: URL, baseFolder: String?, baseSteps: Int, promptLength: Int, shots: Int) throws {
        corpus = [UInt8](try Data(contentsOf: BundledCorpus.url))
        if let baseFolder {
            self.baseFolder = URL(fileURLWithPath: baseFolder)
        } else {
            self.baseFolder = folder.appendingPathComponent("base")
            try Self.trainBase(steps: baseSteps, corpus: corpus, into: self.baseFolder)
        }
        let loaded = try PromptTuningSetup.loadByteModel(from: self.baseFolder)
        var settings = PromptTuningSettings(baseModelHash: BaseModelFingerprint.hash(of: loaded))
        settings.promptLength = promptLength
        settings.shotsPerClass = shots
        try PromptTuningSetup.check(settings: settings, base: loaded.config, corpus: corpus)
        self.settings = settings
        base = try PromptTuningSetup.checkedBase(loaded, settings: settings, source: self.baseFolder.path)
        task = try PromptTask.named(settings.task, corpus: corpus, shotsPerClass: shots)
    }

    /// The peers' training settings: the base's shape, micro-batches of 8, plain SGD with
    /// momentum on the prompt rows.
    func trainingSettings(steps: Int) -> TrainingSettings {
        var training = TrainingSettings(model: base.config)
        training.batchSize = 8
        training.learningRate = Self.promptLearningRate
        training.warmupSteps = max(2, steps / 10)
        training.steps = steps
        training.validationWindows = task.test.count
        return training
    }

    /// Prompt and label rows take large steps, as in prompt tuning's papers: they are a few
    /// vectors read through LayerNorms, far from the rest of the model's scale of change.
    static let promptLearningRate = 0.1

    /// The accuracy of `run`'s prompt model.
    func promptAccuracy(of run: TrainingRun) -> TaskAccuracy {
        let template = PromptTuningSetup.template(for: PromptVocabulary(base: base.config, settings: settings))
        return accuracy { PromptTaskScoring.accuracy(of: run.model, on: $0, template: template, time: base.config.contextLength) }
    }

    /// The plain base model choosing the likelier label word after each speech.
    func zeroShotAccuracy() -> TaskAccuracy {
        accuracy { PromptTaskScoring.zeroShotAccuracy(of: base, on: $0, labelWords: task.labelWords, time: base.config.contextLength) }
    }

    private func accuracy(_ score: ([PromptTask.Example]) -> Double) -> TaskAccuracy {
        TaskAccuracy(heldOut: score(task.test), shots: score(task.training))
    }

    /// The control: every parameter of a copy of the base trained on the same shots, for
    /// `samples` sequences, to predict each label word's first byte.
    func fineTuningAccuracy(samples: Int, progress: (String) -> Void) throws -> TaskAccuracy {
        let template = PromptTemplate(prefix: [], labelTokens: task.labelWords.map { Int32($0[0]) })
        let data = try PromptTaskData(task: task, template: template, time: base.config.contextLength)
        var training = TrainingSettings(model: base.config)
        training.batchSize = 32
        training.microBatchSize = 8
        training.learningRate = Self.fineTuningLearningRate
        training.steps = max(1, samples / training.batchSize)
        training.warmupSteps = max(1, training.steps / 10)
        let run = try TrainingRun(settings: training, dataset: data)
        run.model.parameters.copy(from: base.parameters)
        run.lanes = BLASRuntime.threads
        for step in 1...training.steps {
            let loss = run.computeGradients()
            run.applyUpdate()
            if step % 20 == 0 || step == training.steps {
                progress(String(format: "fine-tuning every parameter: step %d/%d, loss %.3f", step, training.steps, loss))
            }
        }
        return accuracy { PromptTaskScoring.accuracy(of: run.model, on: $0, template: template, time: base.config.contextLength) }
    }

    /// Fine-tuning a whole pretrained model takes small steps, or it forgets what it read.
    static let fineTuningLearningRate = 0.02

    /// Trains config S on the bundled corpus and saves it as the frozen base.
    private static func trainBase(steps: Int, corpus: [UInt8], into folder: URL) throws {
        var training = TrainingSettings(model: .small)
        training.batchSize = 16
        training.temperature = 0.03
        training.warmupSteps = max(2, steps / 10)
        training.steps = steps
        let dataset = try TextDataset(name: "tinyshakespeare", bytes: corpus, contextLength: training.model.contextLength)
        let run = try TrainingRun(settings: training, dataset: dataset)
        run.lanes = BLASRuntime.threads
        print("training the base model (config S, \(steps) steps of 16 sequences) into \(folder.path)")
        let started = Date()
        for step in 1...steps {
            let loss = run.computeGradients()
            run.applyUpdate()
            if step % 50 == 0 || step == steps {
                print(String(format: "  base step %d/%d: loss %.3f (%.0f s)", step, steps, loss, Date().timeIntervalSince(started)))
            }
        }
        try run.save(to: folder)
    }
}

/// Accuracy on the held-out speeches and on the training shots: the gap tells learning the
/// task from memorising the shots.
struct TaskAccuracy {
    let heldOut: Double
    let shots: Double

    var json: [String: Double] { ["held_out": heldOut, "shots": shots] }
}

/// The accuracies `cohort demo --prompt-tuning` reports.
struct PromptTuningReport {
    var before: TaskAccuracy
    var after: TaskAccuracy
    var zeroShot: TaskAccuracy?
    var fineTuned: TaskAccuracy?

    var json: [String: Any] {
        ["before": before.json, "after": after.json, "zero_shot": zeroShot?.json ?? NSNull(),
         "fine_tuning": fineTuned?.json ?? NSNull()]
    }
}
