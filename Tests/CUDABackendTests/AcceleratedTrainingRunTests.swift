import Foundation
import Testing
@testable import CUDABackend
@testable import Trainer

/// A `TrainingRun` whose passes run on the (emulated) GPU trains as the CPU run does: the
/// accelerator gets the parameters whenever they change and gives back the gradient sum.
@Suite(.serialized)
struct AcceleratedTrainingRunTests {
    static func settings() -> TrainingSettings {
        var settings = TrainingSettings(model: ModelConfig(vocabularySize: 256, hiddenSize: 24, layerCount: 2, headCount: 3,
                                                           contextLength: 16))
        settings.batchSize = 4
        settings.microBatchSize = 2
        settings.learningRate = 0.3
        settings.warmupSteps = 1
        settings.steps = 20
        settings.validationWindows = 4
        return settings
    }

    static func dataset() throws -> TextDataset {
        let text = String(repeating: "To be, or not to be, that is the question. ", count: 40)
        return try TextDataset(name: "hamlet", bytes: Array(text.utf8), contextLength: 16)
    }

    static func runs(localSGD: LocalSGDSettings? = nil) throws -> (cpu: TrainingRun, gpu: TrainingRun) {
        let cpu = try TrainingRun(settings: settings(), dataset: dataset(), dataSeed: 7, localSGD: localSGD)
        let gpu = try TrainingRun(settings: settings(), dataset: dataset(), dataSeed: 7, localSGD: localSGD)
        gpu.accelerator = try CUDAAccelerator(settings: settings(), on: CUDATransformerTests.context())
        return (cpu, gpu)
    }

    static func parameters(_ run: TrainingRun) -> [Float] {
        Array(UnsafeBufferPointer(start: run.model.parameters.base, count: run.model.parameters.count))
    }

    @Test func stepsOnTheGPUFollowTheCPURun() throws {
        let (cpu, gpu) = try Self.runs()
        for _ in 0..<3 {
            let expected = cpu.computeGradients()
            let loss = gpu.computeGradients()
            #expect(abs(loss - expected) < 1e-5 * expected)
            cpu.applyUpdate()
            gpu.applyUpdate()
        }
        #expect(relativeError(Self.parameters(gpu), Self.parameters(cpu)) < 1e-5)
        let validation = gpu.validationLoss(), expected = cpu.validationLoss()
        #expect(abs(validation - expected) < 1e-5 * expected)
    }

    @Test func localSGDInnerAndOuterStepsFollowTheCPURun() throws {
        let (cpu, gpu) = try Self.runs(localSGD: LocalSGDSettings(localSteps: 2))
        for run in [cpu, gpu] {
            for _ in 0..<4 { run.accumulateMicroBatch() }
            run.averageAccumulatedGradients()
            run.applyUpdate()
            run.accumulateMicroBatch()
        }
        #expect(cpu.innerStepsInRound == 2 && gpu.innerStepsInRound == 2)
        #expect(relativeError(Self.parameters(gpu), Self.parameters(cpu)) < 1e-5)
    }

    /// A downloaded state replaces the parameters between passes: the next pass must see it.
    @Test func aLoadedStateReachesTheDevice() throws {
        let (cpu, gpu) = try Self.runs()
        cpu.computeGradients()
        cpu.applyUpdate()
        _ = gpu.validationLoss()
        var state = [UInt8](repeating: 0, count: cpu.stateByteCount)
        state.withUnsafeMutableBytes { cpu.copyState(into: $0) }
        state.withUnsafeBytes { gpu.loadState(from: $0, step: cpu.step) }
        let validation = gpu.validationLoss(), expected = cpu.validationLoss()
        #expect(abs(validation - expected) < 1e-5 * expected)
    }

    /// `cohort train`'s way: parameters, gradients and momentum stay on the device; the host
    /// copies catch up when a checkpoint is written, and a resumed run goes on from them.
    @Test func aRunWithItsStateOnTheDeviceFollowsTheCPURunAndResumes() throws {
        var settings = Self.settings()
        settings.sgd = SGDSettings(momentum: 0.9, nesterov: true, weightDecay: 0.1, gradientClipNorm: 0.5)
        let cpu = try TrainingRun(settings: settings, dataset: Self.dataset(), dataSeed: 7)
        let gpu = try TrainingRun(settings: settings, dataset: Self.dataset(), dataSeed: 7)
        gpu.accelerator = try CUDAAccelerator(settings: settings, on: CUDATransformerTests.context())
        try gpu.keepStateOnAccelerator()
        for _ in 0..<3 {
            cpu.computeGradients()
            gpu.computeGradients()
            let expected = cpu.applyUpdate(), actual = gpu.applyUpdate()
            #expect(expected.gradientNorm > 0.5, "clipping is exercised")
            #expect(abs(actual.gradientNorm - expected.gradientNorm) < 1e-5 * expected.gradientNorm)
        }
        #expect(abs(gpu.validationLoss() - cpu.validationLoss()) < 1e-5 * cpu.validationLoss())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-device-state-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try gpu.save(to: folder)
        #expect(relativeError(Self.parameters(gpu), Self.parameters(cpu)) < 1e-5)
        let momentum = { (run: TrainingRun) in Array(UnsafeBufferPointer(start: run.optimizer.momentumBuffer.base,
                                                                          count: run.optimizer.momentumBuffer.count)) }
        #expect(relativeError(momentum(gpu), momentum(cpu)) < 1e-5)

        let resumed = try TrainingRun(settings: settings, dataset: Self.dataset(), dataSeed: 7)
        resumed.accelerator = try CUDAAccelerator(settings: settings, on: CUDATransformerTests.context())
        try resumed.keepStateOnAccelerator()
        try resumed.resume(from: folder)
        #expect(resumed.step == 3)
        cpu.computeGradients()
        resumed.computeGradients()
        cpu.applyUpdate()
        resumed.applyUpdate()
        try resumed.save(to: folder)
        #expect(relativeError(Self.parameters(resumed), Self.parameters(cpu)) < 1e-5)
    }

    @Test func localSGDKeepsItsStateOnTheHost() throws {
        let (_, gpu) = try Self.runs(localSGD: LocalSGDSettings(localSteps: 2))
        #expect(throws: TrainingRun.DeviceOptimizerError.self) { try gpu.keepStateOnAccelerator() }
    }

    @Test func runsTheGPUCannotTrainAreRefusedWithTheReason() {
        var settings = Self.settings()
        settings.regularization.dropout = 0.1
        #expect(CUDAAccelerator.problem(with: settings)?.contains("dropout") == true)
        settings = Self.settings()
        settings.model.positionEncoding = .learned
        #expect(CUDAAccelerator.problem(with: settings)?.contains("learned") == true)
    }
}
