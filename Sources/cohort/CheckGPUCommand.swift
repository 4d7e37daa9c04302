import ArgumentParser
import CUDABackend
import Foundation
import Trainer

/// Checks the CUDA trainer against the CPU trainer on this machine's GPU, in each matrix-product
/// mode, for config S and a model whose head count is not a power of two.
struct CheckGPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-gpu",
        abstract: "Compare the CUDA trainer's loss, logits and gradients with the CPU trainer's on this GPU.",
        discussion: """
            Bounds on ‖gpu − cpu‖ / ‖cpu‖: 1e-4 for float32 products; 1e-2 for tf32, whose products keep \\
            10 mantissa bits. Exits 1 when a check is out of its bound.
            """)

    @Option(help: "Which GPU, by the index `cohort info` lists.") var gpu: Int = 0
    @Flag(help: "Print a JSON object.") var json = false
    @OptionGroup var threadOptions: ThreadOptions

    static let bounds: [(CUDAContext.MatrixMath, Double)] = [(.float32, 1e-4), (.tensorFloat32, 1e-2)]
    /// Config S, and six heads of 64 channels with a context that is no multiple of 32.
    static let models: [(name: String, config: ModelConfig, batch: Int)] = [
        ("S", .small, 4),
        ("6 heads", ModelConfig(hiddenSize: 384, layerCount: 2, headCount: 6, contextLength: 100), 3),
    ]

    func run() throws {
        threadOptions.apply()
        var checks: [[String: Any]] = []
        var device = ""
        for (math, bound) in Self.bounds {
            let context = try CUDAContext(deviceIndex: gpu, mathMode: math)
            device = "\(context.device.name) (compute capability \(context.device.computeCapability), kernels \(context.kernelTarget))"
            for model in Self.models {
                let report = try CUDANumericsCheck().run(config: model.config, batch: model.batch, on: context)
                let worst = report.largestGradientError
                checks.append([
                    "model": model.name, "math": math.rawValue, "bound": bound, "passed": report.passes(bound),
                    "loss_error": report.lossError, "logits_error": report.logitsError,
                    "largest_gradient_error": worst.error, "worst_tensor": worst.tensor,
                ])
                if !json {
                    print(String(format: "%@ %@: loss %.2e, logits %.2e, gradients ≤ %.2e (%@) — %@ (bound %.0e)",
                                 model.name, math.rawValue, report.lossError, report.logitsError, worst.error, worst.tensor,
                                 report.passes(bound) ? "pass" : "FAIL", bound))
                }
            }
        }
        let passed = checks.allSatisfy { $0["passed"] as? Bool == true }
        if json { printJSON(["device": device, "checks": checks, "passed": passed]) }
        if !passed { throw ExitCode(1) }
    }
}
