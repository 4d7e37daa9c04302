import CUDAEmulation
import Foundation
import Testing
@testable import CUDABackend
@testable import Trainer

/// The CUDA trainer's model against the CPU trainer's, on the same parameters and tokens: the
/// host code that drives the GPU (memory, launches, cuBLAS operands, strided attention batches)
/// on the emulated CUDA libraries, or on a GPU where `COHORT_TEST_GPU=1` asks for the real ones.
@Suite(.serialized)
struct CUDATransformerTests {
    static func context() throws -> CUDAContext {
        if ProcessInfo.processInfo.environment["COHORT_TEST_GPU"] == "1" { return try CUDAContext() }
        let folder: URL
        do { folder = try EmulatedCUDALibraries.built.get() } catch {
            try Test.cancel("the emulated CUDA libraries could not be built: \(error)")
        }
        let search = CUDALibrarySearch(environment: [CUDALibrarySearch.pathVariable: folder.path])
        return try CUDAContext(deviceIndex: 0, mathMode: .float32, search: search)
    }

    /// Six heads (not a power of two), channels and time that are not multiples of 32.
    static let config = ModelConfig(vocabularySize: 259, hiddenSize: 72, layerCount: 2, headCount: 6, contextLength: 37)

    @Test func lossLogitsAndEveryGradientMatchTheCPUTrainer() throws {
        let gpu = try Self.context()
        let (batch, time) = (3, 37)
        let cpu = TransformerModel<Float>(config: Self.config)
        cpu.initializeParameters(seed: 11)
        let device = try CUDATransformer(config: Self.config, on: gpu)
        try device.upload(parameters: cpu.parameters)
        // Room for more sequences than the passes use: they run in the front of every buffer,
        // whose rest holds the NaNs the emulated device fills new memory with.
        try device.reserve(batch: batch + 2, time: time)
        var generator = SeededGenerator(seed: 5)
        let tokens = (0..<(batch * time)).map { _ in Int32(generator.next() % UInt64(Self.config.vocabularySize)) }
        // Two unscored rows, as a prompt or padding would give.
        var targets = (0..<(batch * time)).map { _ in Int32(generator.next() % UInt64(Self.config.vocabularySize)) }
        targets[4] = -1
        targets[40] = -1

        let expectedLogits = tokens.withUnsafeBufferPointer { Array(cpu.logits(tokens: $0, batch: batch, time: time)) }
        let logits = try tokens.withUnsafeBufferPointer { try device.logits(tokens: $0, batch: batch, time: time) }
        #expect(relativeError(logits, expectedLogits) < 1e-5)

        cpu.zeroGradients()
        let expectedLoss = tokens.withUnsafeBufferPointer { tokens in
            targets.withUnsafeBufferPointer { cpu.forward(tokens: tokens, targets: $0, batch: batch, time: time) }
        }
        cpu.backward()
        try device.zeroGradients()
        let loss = try tokens.withUnsafeBufferPointer { tokens in
            try targets.withUnsafeBufferPointer { try device.forward(tokens: tokens, targets: $0, batch: batch, time: time) }
        }
        try device.backward()
        #expect(abs(loss - expectedLoss) < 1e-5 * expectedLoss)

        let gradients = FlatBuffer<Float>(count: cpu.layout.parameterCount)
        try device.download(gradients: gradients)
        for tensor in cpu.layout.tensors {
            let expected = Array(UnsafeBufferPointer(start: cpu.gradients.base + tensor.offset, count: tensor.count))
            let actual = Array(UnsafeBufferPointer(start: gradients.base + tensor.offset, count: tensor.count))
            #expect(relativeError(actual, expected) < 1e-4, "\(tensor.name)")
        }
    }

    @Test func gradientsAccumulateOverMicroBatchesUntilZeroed() throws {
        let gpu = try Self.context()
        let cpu = TransformerModel<Float>(config: Self.config)
        cpu.initializeParameters(seed: 3)
        let device = try CUDATransformer(config: Self.config, on: gpu)
        try device.upload(parameters: cpu.parameters)
        let tokens = (0..<32).map { Int32($0 * 7 % 259) }, targets = (0..<32).map { Int32($0 * 5 % 259) }
        func pass() throws {
            try tokens.withUnsafeBufferPointer { tokens in
                try targets.withUnsafeBufferPointer { _ = try device.forward(tokens: tokens, targets: $0, batch: 2, time: 16) }
            }
            try device.backward()
        }
        try pass()
        let once = FlatBuffer<Float>(count: device.layout.parameterCount)
        try device.download(gradients: once)
        try pass()
        let twice = FlatBuffer<Float>(count: device.layout.parameterCount)
        try device.download(gradients: twice)
        let doubled = (0..<once.count).map { 2 * once[$0] }
        #expect(relativeError((0..<twice.count).map { twice[$0] }, doubled) < 1e-6)
        try device.zeroGradients()
        try pass()
        let again = FlatBuffer<Float>(count: device.layout.parameterCount)
        try device.download(gradients: again)
        #expect((0..<again.count).allSatisfy { again[$0] == once[$0] })
    }

    /// The real thing, where there is one: skipped with the reason on machines without a GPU.
    @Test func thisMachinesGPUMatchesTheCPUTrainer() throws {
        let gpu: CUDAContext
        do { gpu = try CUDAContext() } catch {
            try Test.cancel("no usable GPU here, so the CUDA trainer ran on the emulated device only: \(error)")
        }
        let report = try CUDANumericsCheck().run(config: .small, batch: 2, on: gpu)
        #expect(report.passes(1e-4), "largest gradient error \(report.largestGradientError)")
    }

    /// Bias and LayerNorm parameter gradients: column sums as a cuBLAS matrix-vector product.
    @Test func columnSumsAddEveryRowToTheTarget() throws {
        let gpu = try Self.context()
        let (rows, columns) = (37, 72)
        var generator = SeededGenerator(seed: 9)
        let matrix = (0..<(rows * columns)).map { _ in Float.random(in: -1...1, using: &generator) }
        let initial = (0..<columns).map { _ in Float.random(in: -1...1, using: &generator) }
        var expected = initial
        for row in 0..<rows {
            for column in 0..<columns { expected[column] += matrix[row * columns + column] }
        }
        let source = try gpu.buffer(Float.self, count: matrix.count), target = try gpu.buffer(Float.self, count: columns)
        try matrix.withUnsafeBufferPointer { (values) throws(CUDAUnavailable) in try source.upload(values) }
        try initial.withUnsafeBufferPointer { (values) throws(CUDAUnavailable) in try target.upload(values) }
        try gpu.addColumnSums(into: target.address, of: source.address, rows: rows, columns: columns)
        var sums = [Float](repeating: .nan, count: columns)
        try sums.withUnsafeMutableBufferPointer { (values) throws(CUDAUnavailable) in try target.download(into: values) }
        #expect(relativeError(sums, expected) < 1e-6)
    }

    @Test func absolutePositionsAreRefusedBeforeAnythingIsAllocated() throws {
        var config = Self.config
        config.positionEncoding = .sinusoidal
        #expect(CUDATransformer.problem(with: config) != nil)
        let gpu = try Self.context()
        #expect(throws: CUDAUnavailable.self) { try CUDATransformer(config: config, on: gpu) }
    }
}

/// The report `cohort check-gpu` prints, on the emulated GPU: float32 well inside its bound, and
/// a NaN never passing.
struct CUDANumericsCheckTests {
    @Test func theEmulatedGPUIsWithinTheFloat32Bound() throws {
        let gpu = try CUDATransformerTests.context()
        let report = try CUDANumericsCheck().run(config: CUDATransformerTests.config, batch: 2, on: gpu)
        #expect(report.gradientErrors.count == ParameterLayout(config: CUDATransformerTests.config).tensors.count)
        #expect(report.passes(1e-4), "largest gradient error \(report.largestGradientError)")
        let poisoned = CUDANumericsCheck.Report(config: report.config, batch: 2, lossError: .nan, logitsError: 0,
                                                gradientErrors: report.gradientErrors)
        #expect(!poisoned.passes(1))
    }
}
