import CUDABackend
import Foundation

/// The CUDA kernel units as C++ the toolchain's clang++ compiles for the CPU: the prelude
/// (`EmulationPrelude.swift`), each unit in its own namespace, and a table of the entry points.
/// `KernelEmulator` (CUDABackendTests) launches kernels from it directly; the emulated CUDA
/// libraries (`EmulatedCUDALibraries`) run the CUDA trainer's host code on it.
public enum EmulationSource {
    /// clang++ on PATH, or nil, in which case the emulated tests are skipped.
    public static let compilerPath: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map { "\($0)/clang++" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }()

    /// The prelude, each unit in its own namespace, and the table of entry points.
    public static func translationUnit(_ units: [CUDAKernelSource]) -> String {
        var source = prelude + "\n"
        var entries: [String] = []
        for (index, unit) in units.enumerated() {
            source += "\n// \(unit.name)\nnamespace cohort_unit_\(index) {\n\(unit.code)\n}\n"
            entries += unit.entryPoints.map { "    { \"\($0)\", invoke<cohort_unit_\(index)::\($0)> }," }
        }
        source += """

            namespace cohort_emulation {
            const Entry kernels[] = {
            \(entries.joined(separator: "\n"))
            };
            const size_t kernelCount = sizeof(kernels) / sizeof(kernels[0]);
            } // namespace cohort_emulation

            """
        return source
    }
}

/// Why the emulation could not build or run a kernel.
public struct EmulatorError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}
