import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Measures training throughput and the machine's matrix-product peak, for `cohort bench train`.
public enum TrainingBenchmark {
    public struct Result: Sendable {
        public let tokensPerSecond: Double
        public let secondsPerStep: Double
        public let gflops: Double
        public let steps: Int
    }

    /// Floating-point operations of one training step (forward + backward ≈ 3 × forward):
    /// 2 per weight per token for every matrix product including the tied LM head, plus the two
    /// T×T attention products, which the kernels compute in full.
    public static func flopsPerStep(config: ModelConfig, batch: Int) -> Double {
        let c = Double(config.hiddenSize), l = Double(config.layerCount)
        let t = Double(config.contextLength), v = Double(config.vocabularySize)
        let weightFlopsPerToken = 2 * (12 * c * c * l + v * c)
        let attentionFlopsPerToken = 4 * t * c * l
        return 3 * (weightFlopsPerToken + attentionFlopsPerToken) * Double(batch) * t
    }

    /// Trains on random bytes for about `seconds` after `warmupSteps` untimed steps.
    /// `accelerator` gives the device the passes run on for the run's settings (nil: the CPU).
    public static func measureTraining(
        config: ModelConfig, batch: Int, seconds: Double, lanes: Int, warmupSteps: Int = 2,
        accelerator: (TrainingSettings) throws -> (any TrainingAccelerator)? = { _ in nil }
    ) throws -> Result {
        var settings = TrainingSettings(model: config)
        settings.batchSize = batch
        settings.learningRate = 0.01
        settings.steps = Int.max / 2
        var generator = SeededGenerator(seed: 42)
        let bytes = (0..<(config.contextLength * 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let dataset = try TextDataset(name: "random bytes", bytes: bytes, contextLength: config.contextLength)
        let run = try TrainingRun(settings: settings, dataset: dataset)
        run.lanes = lanes
        run.accelerator = try accelerator(settings)
        if run.accelerator != nil { try run.keepStateOnAccelerator() }
        for _ in 0..<warmupSteps {
            run.computeGradients()
            run.applyUpdate()
        }
        let start = monotonicSeconds()
        var steps = 0
        repeat {
            run.computeGradients()
            run.applyUpdate()
            steps += 1
        } while monotonicSeconds() - start < seconds
        let elapsed = monotonicSeconds() - start
        let perStep = elapsed / Double(steps)
        return Result(tokensPerSecond: Double(batch * config.contextLength) / perStep, secondsPerStep: perStep,
                      gflops: flopsPerStep(config: config, batch: batch) / perStep / 1e9, steps: steps)
    }

    /// Best GFLOP/s of a 1024³ single-precision matrix product over about `seconds`.
    public static func gemmPeak(seconds: Double = 1) -> Double {
        let n = 1024
        let a = FlatBuffer<Float>(count: n * n), b = FlatBuffer<Float>(count: n * n), c = FlatBuffer<Float>(count: n * n)
        for index in 0..<(n * n) {
            a[index] = Float(index % 7) * 0.1
            b[index] = Float(index % 5) * 0.1
        }
        var best = 0.0
        let start = monotonicSeconds()
        repeat {
            let t0 = monotonicSeconds()
            Float.gemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1, a: a.base, lda: n,
                       b: b.base, ldb: n, beta: 0, c: c.base, ldc: n)
            best = max(best, 2 * Double(n * n * n) / (monotonicSeconds() - t0) / 1e9)
        } while monotonicSeconds() - start < seconds
        return best
    }

    /// The process's peak resident memory so far.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}
