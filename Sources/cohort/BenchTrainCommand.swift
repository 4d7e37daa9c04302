import ArgumentParser
import Foundation
import Trainer

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training tokens/s and GFLOP/s for configs S and M, next to the sgemm peak.",
        discussion: "S: d_model 256, 4 layers, 4 heads, context 128, batch 16. M: d_model 512, 6 layers, 8 heads, context 256, batch 8.")

    @Option(help: "S or M (default: both, each in its own process so that peak memory is per config).")
    var config: String?
    @Option(help: "Seconds of timed training per config.") var seconds: Double = 20
    @Flag(help: "Print one JSON object per config.") var json = false
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if let config, !["S", "M"].contains(config.uppercased()) { throw ValidationError("--config must be S or M, got \(config)") }
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
    }

    func run() throws {
        guard let config else {
            for name in ["S", "M"] { try runChild(config: name) }
            return
        }
        threadOptions.apply()
        let isMedium = config.uppercased() == "M"
        let model: ModelConfig = isMedium ? .medium : .small
        let batch = isMedium ? 8 : 16
        let peak = TrainingBenchmark.gemmPeak()
        let lanes = BLASRuntime.threads
        let result = try TrainingBenchmark.measureTraining(config: model, batch: batch, seconds: seconds, lanes: lanes)
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

    private func runChild(config name: String) throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var arguments = ["bench", "train", "--config", name, "--seconds", String(seconds)]
        if json { arguments.append("--json") }
        if let threads = threadOptions.threads { arguments += ["--threads", String(threads)] }
        child.arguments = arguments
        child.environment = ParentWatch.childEnvironment
        try child.run()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else { throw ExitCode(child.terminationStatus) }
    }
}
