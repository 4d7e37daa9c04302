import ArgumentParser
import CUDABackend
import Foundation
import Trainer

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the BLAS kernel, threads, presets and the GPUs this machine offers.")

    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let core = BLASRuntime.coreName
        let cuda = Result { () throws(CUDAUnavailable) in try CUDADeviceList.read() }
        let compiler = Result { () throws(CUDAUnavailable) in try KernelCompiler() }
        if json {
            printJSON(["blas_core": core, "blas_threads": BLASRuntime.threads,
                       "cores": ProcessInfo.processInfo.activeProcessorCount,
                       "cuda": cudaObject(cuda, compiler: compiler)])
        } else {
            print("OpenBLAS kernel: \(core), \(BLASRuntime.threads) threads; \(ProcessInfo.processInfo.activeProcessorCount) cores")
            for line in cudaLines(cuda, compiler: compiler) { print(line) }
        }
    }

    private func cudaObject(_ cuda: Result<CUDADeviceList, CUDAUnavailable>,
                            compiler: Result<KernelCompiler, CUDAUnavailable>) -> [String: Any] {
        var object: [String: Any] = [:]
        switch cuda {
        case .success(let list):
            object["driver_version"] = list.driverVersion
            object["devices"] = list.devices.map { device -> [String: Any] in
                ["index": device.index, "name": device.name,
                 "compute_capability": device.computeCapability.description,
                 "memory_bytes": device.memoryBytes, "multiprocessors": device.multiprocessors]
            }
        case .failure(let reason):
            object["devices"] = [[String: Any]]()
            object["unavailable"] = reason.description
        }
        switch compiler {
        case .success(let compiler): object["nvrtc_version"] = compiler.version
        case .failure(let reason): object["nvrtc_unavailable"] = reason.description
        }
        return object
    }

    private func cudaLines(_ cuda: Result<CUDADeviceList, CUDAUnavailable>,
                           compiler: Result<KernelCompiler, CUDAUnavailable>) -> [String] {
        var lines: [String] = []
        switch cuda {
        case .success(let list) where list.devices.isEmpty:
            lines.append("CUDA driver \(list.driverVersion): no GPU visible")
        case .success(let list):
            lines.append("CUDA driver \(list.driverVersion):")
            for device in list.devices {
                let gibibytes = String(format: "%.1f", Double(device.memoryBytes) / Double(1 << 30))
                lines.append("  GPU \(device.index): \(device.name), compute capability \(device.computeCapability), "
                    + "\(gibibytes) GiB, \(device.multiprocessors) multiprocessors")
            }
        case .failure(let reason):
            lines.append("CUDA: \(reason)")
        }
        switch compiler {
        case .success(let compiler): lines.append("NVRTC \(compiler.version)")
        case .failure(let reason): lines.append("NVRTC: \(reason)")
        }
        return lines
    }
}
