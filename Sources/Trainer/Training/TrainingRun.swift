import Foundation

/// One model, its optimizer and its data on one machine: the trainer every peer runs.
///
/// `computeGradients()` fills the model's gradient arena with the mean gradient over one global
/// batch (accumulating micro-batches); `applyUpdate()` takes the SGD step. A collaborative peer
/// averages the arena with others between the two calls.
///
/// With an `outer` optimizer (local SGD, `LocalSGDSettings.localSteps` > 1) the model trains its
/// own parameters: every `batchSize` sequences take an inner SGD step, `averageAccumulatedGradients()`
/// writes the pseudo-gradient into `averagingVector` (its own buffer, so inner steps may go on
/// while the peers average it), and `applyUpdate()` takes the outer step and moves the model's
/// parameters by as much as the shared ones moved, keeping the inner steps taken since.
public final class TrainingRun {
    public let settings: TrainingSettings
    public let model: TransformerModel<Float>
    public let optimizer: SGDOptimizer
    /// Local SGD's outer step; nil when every step is averaged.
    public let outer: OuterOptimizer?
    public let dataset: any TrainingData
    /// The elements of the parameter arena this run trains and its peers average: all of
    /// them, or a prompt-tuning run's prompt and label rows (`PromptVocabulary`).
    public let trainableRange: Range<Int>
    /// The trainable part of the parameters and of the gradients: the arenas themselves, or
    /// windows onto them.
    let trainableParameters: FlatBuffer<Float>
    let trainableGradients: FlatBuffer<Float>
    public private(set) var dataGenerator: SeededGenerator
    public private(set) var samplesSeen: Int = 0
    let tokens: UnsafeMutableBufferPointer<Int32>
    let targets: UnsafeMutableBufferPointer<Int32>
    /// Replicas of the model that run a micro-batch's rows in parallel (see `lanes`).
    var replicas: [TransformerModel<Float>] = []
    /// Each replica's loss for the current micro-batch.
    var laneLosses = FlatBuffer<Double>(count: 0)
    /// How many threads split each micro-batch between them, each with its own model replica and
    /// single-threaded BLAS; 1 keeps one model and lets BLAS use its threads.
    public var lanes = 1
    /// Where forward and backward run instead of `model` (which then only holds the state), or
    /// nil for the CPU. With an accelerator, the parameters change through this run's methods only.
    public var accelerator: (any TrainingAccelerator)? {
        didSet { parametersChanged() }
    }
    /// Whether the accelerator's parameters are the model's current ones.
    private var acceleratorHoldsParameters = false
    /// The accelerator, when it also keeps the optimizer's state (`keepStateOnAccelerator()`).
    var deviceOptimizer: (any DeviceOptimizer)?
    /// Whether the accelerator's steps have left the host's parameters and momentum behind.
    var hostStateIsStale = false

    /// Updates taken that the run shares: outer steps under local SGD, else SGD steps.
    public var step: Int { outer?.step ?? optimizer.step }

    /// Inner SGD steps since the pseudo-gradient was last taken (always 0 without local SGD).
    public private(set) var innerSteps = 0
    /// Inner steps behind the last pseudo-gradient taken.
    public private(set) var innerStepsInRound = 0

    /// What the peers average: the gradient arena, or under local SGD the pseudo-gradient's own
    /// buffer.
    public var averagingVector: FlatBuffer<Float> { pseudoGradient ?? trainableGradients }
    /// Local SGD: the pseudo-gradient under averaging, and this peer's parameters when it was
    /// taken (`applyUpdate` keeps what the inner steps since then added).
    private let pseudoGradient: FlatBuffer<Float>?
    private let boundary: FlatBuffer<Float>?
    private var boundaryTaken = false
    /// Local SGD, a late join: the update this peer missed, fetched while its pseudo-gradient is
    /// being averaged, so it needs a buffer of its own (`applyReplayedUpdate`). Allocated on
    /// first use: most peers never join late.
    public private(set) lazy var replayBuffer = FlatBuffer<Float>(count: averagingVector.count)

    /// `dataSeed` decides which windows this run draws (default: derived from the settings' seed);
    /// collaborating peers share the initial parameters but should not share data order.
    public convenience init(settings: TrainingSettings, dataset: any TrainingData, dataSeed: UInt64? = nil,
                            localSGD: LocalSGDSettings? = nil) throws {
        try settings.validate()
        let model = TransformerModel<Float>(config: settings.model)
        model.initializeParameters(seed: settings.seed)
        try self.init(settings: settings, model: model, trainableRange: 0..<model.parameters.count, dataset: dataset,
                      dataSeed: dataSeed, localSGD: localSGD)
    }

    /// A prompt-tuning run: `model` is the base extended by `vocabulary` (`PromptVocabulary.extend`)
    /// and only its prompt and label rows train; `settings.model` is the base's shape.
    public convenience init(promptTuning model: TransformerModel<Float>, vocabulary: PromptVocabulary,
                            settings: TrainingSettings, data: PromptTaskData, dataSeed: UInt64? = nil) throws {
        try settings.validate()
        guard vocabulary.base == settings.model, model.config == vocabulary.extendedConfig else {
            throw TrainingSettings.Error(description: "the prompt-tuning model's shape differs from the run's base model")
        }
        // Byte corruption would overwrite the prompt's tokens, and dropout in a frozen model is
        // not what prompt tuning's papers train with.
        guard !settings.regularization.isEnabled else {
            throw TrainingSettings.Error(description: "a prompt-tuning run trains without dropout, stochastic depth or byte corruption")
        }
        model.freezesBlocks = true
        try self.init(settings: settings, model: model, trainableRange: vocabulary.trainableRange, dataset: data,
                      dataSeed: dataSeed, localSGD: nil)
    }

    private init(settings: TrainingSettings, model: TransformerModel<Float>, trainableRange: Range<Int>,
                 dataset: any TrainingData, dataSeed: UInt64?, localSGD: LocalSGDSettings?) throws {
        if let problem = localSGD?.problem { throw TrainingSettings.Error(description: problem) }
        self.settings = settings
        self.dataset = dataset
        self.model = model
        self.trainableRange = trainableRange
        let everything = trainableRange == 0..<model.parameters.count
        trainableParameters = everything ? model.parameters : FlatBuffer(window: trainableRange, of: model.parameters)
        trainableGradients = everything ? model.gradients : FlatBuffer(window: trainableRange, of: model.gradients)
        optimizer = everything ? SGDOptimizer(settings: settings.sgd, layout: model.layout)
            : SGDOptimizer(settings: settings.sgd, parameterCount: trainableRange.count)
        if let localSGD, localSGD.localSteps > 1 {
            precondition(everything, "local SGD trains the whole model")
            outer = OuterOptimizer(settings: localSGD, parameterCount: model.parameters.count)
            outer!.parameters.copy(from: model.parameters)
            pseudoGradient = FlatBuffer(count: model.parameters.count)
            boundary = FlatBuffer(count: model.parameters.count)
        } else {
            (outer, pseudoGradient, boundary) = (nil, nil, nil)
        }
        dataGenerator = SeededGenerator(seed: dataSeed ?? settings.seed &+ 0x5EED)
        let rows = settings.effectiveMicroBatchSize * settings.model.contextLength
        tokens = .allocate(capacity: rows)
        tokens.initialize(repeating: 0)
        targets = .allocate(capacity: rows)
        targets.initialize(repeating: 0)
    }

    deinit {
        tokens.deallocate()
        targets.deallocate()
    }

    /// Mean training loss over the batch; the gradient arena holds the batch's mean gradient.
    @discardableResult
    public func computeGradients() -> Double {
        let passes = settings.batchSize / settings.effectiveMicroBatchSize
        var loss = 0.0
        for _ in 0..<passes { loss += accumulateMicroBatch() }
        averageAccumulatedGradients()
        return loss / Double(passes)
    }

    /// Micro-batches whose gradients are summed in the arena since the last update.
    public private(set) var accumulatedMicroBatches = 0

    /// Sequences behind the accumulated gradients.
    public var accumulatedSamples: Int { accumulatedMicroBatches * settings.effectiveMicroBatchSize }

    /// Adds one micro-batch's mean gradient to the arena (zeroing it first after an update) and
    /// returns its loss. A collaborative peer calls this until the run's global batch is complete.
    @discardableResult
    public func accumulateMicroBatch() -> Double {
        let micro = settings.effectiveMicroBatchSize, time = settings.model.contextLength
        precondition(!gradientsAveraged, "accumulating onto gradients that were already averaged")
        if accumulatedMicroBatches == 0 { accelerator?.zeroGradients() ?? model.zeroGradients() }
        dataset.fillTrainingBatch(tokens: tokens, targets: targets, batch: micro, time: time, generator: &dataGenerator)
        let noise = applyInputNoise(rows: micro * time)
        let loss: Double
        if let accelerator = acceleratorWithParameters() {
            loss = accelerator.accumulateGradients(tokens: UnsafeBufferPointer(tokens), targets: UnsafeBufferPointer(targets),
                                                   batch: micro, time: time)
        } else if min(lanes, micro) > 1 {
            loss = forwardInLanes(micro: micro, time: time, noise: noise)
        } else {
            loss = model.forward(tokens: UnsafeBufferPointer(tokens), targets: UnsafeBufferPointer(targets), batch: micro, time: time,
                                 noise: noise)
            model.backward()
        }
        accumulatedMicroBatches += 1
        samplesSeen += micro
        if outer != nil, accumulatedSamples == settings.batchSize { takeInnerStep() }
        return loss
    }

    /// Local SGD: one step of this peer's own parameters on the micro-batches accumulated, at
    /// the schedule's rate for the run's (outer) step.
    private func takeInnerStep() {
        scaleGradientsToTheirMean()
        optimizer.apply(gradients: model.gradients, to: model.parameters, rate: settings.schedule.rate(at: step))
        parametersChanged()
        accumulatedMicroBatches = 0
        innerSteps += 1
    }

    /// Turns the summed micro-batch gradients into their mean (once per update). Under local
    /// SGD, takes an inner step with any micro-batches not stepped yet and writes the
    /// pseudo-gradient into `averagingVector` instead; training may go on meanwhile.
    public func averageAccumulatedGradients() {
        if let outer, let pseudoGradient, let boundary {
            if accumulatedMicroBatches > 0 { takeInnerStep() }
            outer.writePseudoGradient(local: model.parameters, into: pseudoGradient)
            boundary.copy(from: model.parameters)
            boundaryTaken = true
            innerStepsInRound = innerSteps
            innerSteps = 0
            return
        }
        precondition(!gradientsAveraged, "gradients of this batch are already averaged")
        gradientsAveraged = true
        // With the optimizer on the device, its step takes the mean there.
        if deviceOptimizer == nil { scaleGradientsToTheirMean() }
    }

    /// Divides the summed micro-batch gradients by their count, after fetching them from the
    /// accelerator if there is one.
    private func scaleGradientsToTheirMean() {
        accelerator?.copyGradients(into: model.gradients)
        guard accumulatedMicroBatches > 1 else { return }
        let scale = 1 / Float(accumulatedMicroBatches)
        for index in 0..<trainableGradients.count { trainableGradients[index] *= scale }
    }

    private var gradientsAveraged = false

    /// Applies the SGD step for the current gradient arena; returns the learning rate and the
    /// gradient norm before clipping. Elements in `skipped` are left unchanged.
    ///
    /// Under local SGD, the outer step with the averaged `averagingVector`; the model's
    /// parameters become the new shared ones plus whatever the inner steps since the
    /// pseudo-gradient was taken added (θ ← θ_outer + (θ − θ_boundary)): exactly the shared ones
    /// when nothing was trained in between, and the next round's start otherwise. With
    /// fragments, only the step's fragment takes the outer step and starts again from it; the
    /// rest keeps training towards its own round.
    @discardableResult
    public func applyUpdate(skipping skipped: [Range<Int>] = []) -> (learningRate: Double, gradientNorm: Double) {
        if let deviceOptimizer {
            precondition(skipped.isEmpty, "a run whose state is on the accelerator averages with nobody")
            defer { discardAccumulatedGradients() }
            return applyUpdateOnDevice(deviceOptimizer)
        }
        parametersChanged()
        if let outer, let pseudoGradient, let boundary {
            let fragment = outer.settings.fragment(atStep: outer.step, of: outer.parameters.count)
            let outside = outer.settings.elementsOutsideFragment(atStep: outer.step, of: outer.parameters.count)
            let norm = outer.apply(pseudoGradient: pseudoGradient, skipping: skipped + outside)
            let local = model.parameters.base, shared = outer.parameters.base, start = boundary.base
            if boundaryTaken {
                for index in fragment { local[index] = shared[index] + (local[index] - start[index]) }
                boundaryTaken = false
            } else {
                for index in fragment { local[index] = shared[index] }
            }
            return (outer.settings.outerLearningRate, norm)
        }
        let rate = settings.schedule.rate(at: optimizer.step)
        let norm = optimizer.apply(gradients: trainableGradients, to: trainableParameters, rate: rate, skipping: skipped)
        discardAccumulatedGradients()
        return (rate, norm)
    }

    /// Local SGD, a late join: takes the outer step the run took from this peer's shared state
    /// with `replayBuffer` (the update as its donor applied it), bit for bit as `applyUpdate`
    /// would, and moves this peer's own parameters, and the boundary of the pseudo-gradient it
    /// sent, by as much as the shared ones moved. Its training since, and the pseudo-gradient
    /// being averaged, are kept: the round's result then applies as on any member.
    public func applyReplayedUpdate(skipping skipped: [Range<Int>]) {
        guard let outer, let boundary else {
            preconditionFailure("a replay beside training needs local SGD; this run averages every step (step \(step))")
        }
        parametersChanged()
        let followers = boundaryTaken ? [model.parameters, boundary] : [model.parameters]
        let outside = outer.settings.elementsOutsideFragment(atStep: outer.step, of: outer.parameters.count)
        outer.apply(pseudoGradient: replayBuffer, skipping: skipped + outside, carrying: followers)
    }

    /// Local SGD: replaces the shared parameters, outer momentum and step with a state's (the
    /// bytes `copyState` writes), moving this peer's own parameters, and the boundary of the
    /// pseudo-gradient it sent, by what each shared element moved. Unlike `loadState` it keeps
    /// the training since the last outer step: a late joiner whose replay led elsewhere goes
    /// back to the state it started from, its training included.
    public func loadSharedState(from source: UnsafeRawBufferPointer, step: Int) {
        guard let outer, let boundary else {
            preconditionFailure("only local SGD keeps training apart from the shared state; this run is at step \(self.step)")
        }
        precondition(source.count == stateByteCount, "state holds \(source.count) bytes, needs \(stateByteCount)")
        let shared = outer.parameters.base, local = model.parameters.base, start = boundary.base
        for index in 0..<outer.parameters.count {
            let loaded = source.loadUnaligned(fromByteOffset: index * MemoryLayout<Float>.size, as: Float.self)
            let shift = shared[index] - loaded
            shared[index] = loaded
            local[index] -= shift
            if boundaryTaken { start[index] -= shift }
        }
        UnsafeMutableRawPointer(outer.momentum.base).copyMemory(from: source.baseAddress! + stateByteCount / 2, byteCount: stateByteCount / 2)
        outer.step = step
        parametersChanged()
    }

    /// Forgets accumulated gradients, e.g. after a round that could not be joined; under local
    /// SGD also the inner steps since the last outer step: the model starts again from the
    /// shared parameters.
    public func discardAccumulatedGradients() {
        accumulatedMicroBatches = 0
        gradientsAveraged = false
        if let outer {
            parametersChanged()
            model.parameters.copy(from: outer.parameters)
            innerSteps = 0
            boundaryTaken = false
        }
    }

    /// Mean loss (nats per byte) over the fixed validation windows.
    public func validationLoss() -> Double {
        let micro = settings.effectiveMicroBatchSize, time = settings.model.contextLength
        let windows = dataset.validationWindowCount(time: time, limit: settings.validationWindows)
        var total = 0.0, counted = 0
        var first = 0
        while first < windows {
            let rows = min(micro, windows - first)
            dataset.fillValidationBatch(tokens: tokens, targets: targets, first: first, batch: rows, time: time, windowCount: windows)
            let batchTokens = UnsafeBufferPointer(rebasing: tokens[..<(rows * time)])
            let batchTargets = UnsafeBufferPointer(rebasing: targets[..<(rows * time)])
            let loss = if let accelerator = acceleratorWithParameters() {
                accelerator.loss(tokens: batchTokens, targets: batchTargets, batch: rows, time: time)
            } else if min(lanes, rows) > 1 {
                forwardInLanes(micro: rows, time: time, backward: false)
            } else {
                model.forward(tokens: batchTokens, targets: batchTargets, batch: rows, time: time)
            }
            total += loss * Double(rows)
            counted += rows
            first += rows
        }
        return total / Double(max(counted, 1))
    }

    public func save(to folder: URL) throws {
        try requireWholeModel()
        copyStateFromDevice()
        let state = Checkpoint.OptimizerState(
            step: optimizer.step, samplesSeen: samplesSeen, dataGenerator: dataGenerator, momentum: optimizer.momentumBuffer)
        try Checkpoint.save(model: model, optimizer: state, to: folder)
    }

    /// Continues from a checkpoint folder written by `save(to:)` with the same model shape.
    public func resume(from folder: URL) throws {
        try requireWholeModel()
        let config = try Checkpoint.loadConfig(from: folder)
        guard config.vocabularySize == settings.model.vocabularySize, config.hiddenSize == settings.model.hiddenSize,
              config.layerCount == settings.model.layerCount, config.headCount == settings.model.headCount else {
            throw Checkpoint.Error(description: "\(folder.path): the checkpoint's model shape differs from this run's settings")
        }
        guard config.positionEncoding == settings.model.positionEncoding else {
            throw Checkpoint.Error(description: "\(folder.path): the checkpoint uses \(config.positionEncoding.rawValue) positions, this run's settings \(settings.model.positionEncoding.rawValue)")
        }
        let saved = try Checkpoint.loadModel(from: folder)
        let state = try Checkpoint.loadOptimizer(from: folder, parameterCount: model.parameters.count)
        model.parameters.copy(from: saved.parameters)
        parametersChanged()
        optimizer.momentumBuffer.copy(from: state.momentum)
        if let deviceOptimizer {
            deviceOptimizer.load(parameters: model.parameters, momentum: optimizer.momentumBuffer)
            markAcceleratorHoldsParameters()
            hostStateIsStale = false
        }
        optimizer.step = state.step
        samplesSeen = state.samplesSeen
        dataGenerator = state.dataGenerator
    }

    /// Tells the accelerator to take the parameters again before its next pass: every change
    /// of `model.parameters` goes through here.
    func parametersChanged() {
        acceleratorHoldsParameters = false
    }

    /// After the accelerator was given the parameters some other way.
    func markAcceleratorHoldsParameters() {
        acceleratorHoldsParameters = true
    }

    /// The accelerator, given the current parameters first if they changed since it last got them.
    private func acceleratorWithParameters() -> (any TrainingAccelerator)? {
        guard let accelerator else { return nil }
        if !acceleratorHoldsParameters {
            accelerator.load(parameters: model.parameters)
            acceleratorHoldsParameters = true
        }
        return accelerator
    }

    /// Checkpoint folders hold whole models; a prompt-tuning run's state is its prompt rows,
    /// which `PromptCheckpoint` keeps.
    private func requireWholeModel() throws {
        guard trainableRange.count == model.parameters.count else {
            throw Checkpoint.Error(description: "a prompt-tuning run is saved as a prompt checkpoint, not a model folder")
        }
    }
}
