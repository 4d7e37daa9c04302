import ArgumentParser
import CUDABackend
import Foundation
import Trainer

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training tokens/s and GFLOP/s for configs S and M (and L), next to the matrix-product peak.",
        discussion: """
            S: d_model 256, 4 layers, 4 heads, context 128, batch 16. M: d_model 512, 6 layers, 8 heads, context 256, \
            batch 8. L (for GPUs): d_model 1024, 24 layers, 16 heads, context 1024, batch 8. On a GPU the report adds \
            MFU: model FLOP/s over the device's peak for the matrix products' mode.
            """)

    @Option(help: "S, M or L (default: S and M, each in its own process so that peak memory is per config).")
    var config: String?
    @Option(help: "Seconds of timed training per config.") var seconds: Double = 20
    @Flag(help: "Print one JSON object per config.") var json = false
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var deviceOptions: DeviceOptions

    static let presets: [String: (model: ModelConfig, batch: Int)] = [
        "S": (.small, 16), "M": (.medium, 8), "L": (.large, 8),
    ]

    func validate() throws {
        if let config, Self.presets[config.uppercased()] == nil { throw ValidationError("--config must be S, M or L, got \(config)") }
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
    }

    func run() throws {
        guard let config else {
            for name in ["S", "M"] { try runChild(config: name) }
            return
        }
        threadOptions.apply()
        let (model, batch) = Self.presets[config.uppercased()]!
        var gpu: CUDAAccelerator?
        let result = try TrainingBenchmark.measureTraining(config: model, batch: batch, seconds: seconds, lanes: BLASRuntime.threads) {
            settings in
            let accelerator = try deviceOptions.accelerator(for: settings)
            gpu = accelerator as? CUDAAccelerator
            return accelerator
        }
        if let gpu {
            try report(result, on: gpu, config: config.uppercased(), model: model, batch: batch)
            return
        }
        let peak = TrainingBenchmark.gemmPeak()
        let rss = TrainingBenchmark.peakResidentBytes()
        if json {
            printJSON([
                "config": config.uppercased(), "tokens_per_second": result.tokensPerSecond, "gflops": result.gflops,
                "gemm_peak_gflops": peak, "fraction_of_peak": result.gflops / peak, "peak_rss_bytes": rss,
                "seconds_per_step": result.secondsPerStep, "steps": result.steps, "batch": batch,
                "context": model.contextLength, "threads": BLASRuntime.threads, "blas_core": BLASRuntime.coreName,
            ])
        } else {
            print(String(format: "config %@: %@ tokens/s, %.1f GFLOP/s = %.0f%% of the %.1f GFLOP/s sgemm peak, %.1f ms/step, peak RSS %.0f MiB (OpenBLAS %@ × %d threads)",
                         config.uppercased(), formatCount(result.tokensPerSecond), result.gflops, 100 * result.gflops / peak, peak,
                         1000 * result.secondsPerStep, Double(rss) / 1_048_576, BLASRuntime.coreName, BLASRuntime.threads))
        }
    }

    /// A GPU run's figures: throughput, model FLOP/s, the measured cuBLAS peak and MFU against
    /// the device's peak for the mode the products ran in.
    private func report(_ result: TrainingBenchmark.Result, on gpu: CUDAAccelerator, config: String, model: ModelConfig,
                        batch: Int) throws {
        let context = gpu.model.gpu
        let measuredPeak = try context.gemmPeak()
        let devicePeak = context.device.peakFlops(context.mathMode)
        let mfu = devicePeak.map { result.gflops * 1e9 / $0 }
        if json {
            var object: [String: Any] = [
                "config": config, "device": gpu.description, "matrix_math": context.mathMode.rawValue,
                "tokens_per_second": result.tokensPerSecond, "gflops": result.gflops, "seconds_per_step": result.secondsPerStep,
                "steps": result.steps, "batch": batch, "context": model.contextLength,
                "parameters": model.parameterCount,
                "gpu_gemm_peak_gflops": measuredPeak / 1e9, "peak_rss_bytes": TrainingBenchmark.peakResidentBytes(),
            ]
            if let devicePeak, let mfu {
                object["device_peak_gflops"] = devicePeak / 1e9
                object["mfu"] = mfu
            }
            printJSON(object)
        } else {
            let share = mfu.map { String(format: "MFU %.1f%%", 100 * $0) } ?? "MFU unknown for this architecture"
            print(String(format: "config %@ on %@: %@ tokens/s, %.1f GFLOP/s, %@, cuBLAS sgemm peak %.1f GFLOP/s, %.2f ms/step",
                         config, gpu.description, formatCount(result.tokensPerSecond), result.gflops, share,
                         measuredPeak / 1e9, 1000 * result.secondsPerStep))
        }
    }

    private func runChild(config name: String) throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var arguments = ["bench", "train", "--config", name, "--seconds", String(seconds)]
        if json { arguments.append("--json") }
        if let threads = threadOptions.threads { arguments += ["--threads", String(threads)] }
        arguments += ["--device", deviceOptions.device.rawValue, "--gpu-matrix-math", deviceOptions.gpuMatrixMath,
                      "--gpu", String(deviceOptions.gpu)]
        child.arguments = arguments
        child.environment = ParentWatch.childEnvironment
        try child.run()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else { throw ExitCode(child.terminationStatus) }
    }
}
