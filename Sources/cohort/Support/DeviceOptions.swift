import ArgumentParser
import CUDABackend
import Foundation
import Trainer

/// Where a command runs the model: `--device cpu|cuda|auto` and the GPU's matrix-product mode.
struct DeviceOptions: ParsableArguments {
    enum Choice: String, ExpressibleByArgument, CaseIterable {
        case cpu, cuda, auto
    }

    @Option(help: "Where the model runs: cpu, cuda or auto (CUDA when a usable GPU is found).")
    var device: Choice = .auto

    @Option(help: "Matrix products on the GPU: float32, or tf32 (tensor cores, 10-bit mantissa products).")
    var gpuMatrixMath: String = CUDAContext.MatrixMath.float32.rawValue

    @Option(help: "Which GPU, by the index `cohort info` lists.")
    var gpu: Int = 0

    func validate() throws {
        guard CUDAContext.MatrixMath(rawValue: gpuMatrixMath) != nil else {
            throw ValidationError("--gpu-matrix-math must be float32 or tf32, got \(gpuMatrixMath)")
        }
        guard gpu >= 0 else { throw ValidationError("--gpu must be at least 0, got \(gpu)") }
    }

    /// The accelerator for a run of `settings`, or nil for the CPU. `--device cuda` without a
    /// usable GPU throws; `auto` falls back to the CPU. Either way the choice is said on
    /// standard error (so that `--json` output stays one object) before anything else runs.
    func accelerator(for settings: TrainingSettings) throws -> (any TrainingAccelerator)? {
        guard device != .cpu else {
            note("device: CPU")
            return nil
        }
        do {
            if let problem = CUDAAccelerator.problem(with: settings) { throw CUDAUnavailable(problem) }
            let context = try CUDAContext(deviceIndex: gpu, mathMode: CUDAContext.MatrixMath(rawValue: gpuMatrixMath)!)
            let accelerator = try CUDAAccelerator(settings: settings, on: context)
            note("device: \(accelerator.description)")
            return accelerator
        } catch {
            if device == .cuda { throw CUDAUnavailable("--device cuda: \(error)") }
            note("device: CPU (no usable GPU: \(error))")
            return nil
        }
    }

    private func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
