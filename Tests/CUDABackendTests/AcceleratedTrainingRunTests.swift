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

    @Test func runsTheGPUCannotTrainAreRefusedWithTheReason() {
        var settings = Self.settings()
        settings.regularization.dropout = 0.1
        #expect(CUDAAccelerator.problem(with: settings)?.contains("dropout") == true)
        settings = Self.settings()
        settings.model.positionEncoding = .learned
        #expect(CUDAAccelerator.problem(with: settings)?.contains("learned") == true)
    }
}
