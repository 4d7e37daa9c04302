import COpenBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The OpenBLAS kernel and thread count in use, and the start-up check that picks the fast kernel.
///
/// OpenBLAS's DYNAMIC_ARCH build chooses its kernel when the library loads and misdetects some
/// CPUs (a Sapphire Rapids-class Xeon gets the SSE3 "Prescott" kernel, 5× slower). The choice can
/// only be overridden by OPENBLAS_CORETYPE in the environment before the process starts, so
/// `ensureFastKernel` compares the loaded kernel with the CPU's features and, when the kernel is
/// weaker, re-executes the program once with the right OPENBLAS_CORETYPE.
public enum BLASRuntime {
    static let reexecMarker = "COHORT_BLAS_REEXECUTED"

    /// The kernel OpenBLAS is using, e.g. "SkylakeX" or "Haswell".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Threads for matrix products and for the elementwise kernels between them.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set {
            openblas_set_num_threads(Int32(max(1, newValue)))
            Parallel.threadCount = max(1, newValue)
        }
    }

    /// The SIMD generation a kernel or a CPU supports: 0 SSE, 1 AVX, 2 AVX2+FMA, 3 AVX-512.
    static func tier(ofKernel name: String) -> Int {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": 3
        case "haswell", "zen", "excavator": 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller": 1
        default: 0
        }
    }

    static func tier(ofCPUFlags flags: Set<String>) -> Int {
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return 3 }
        if flags.contains("avx2") && flags.contains("fma") { return 2 }
        if flags.contains("avx") { return 1 }
        return 0
    }

    /// The OpenBLAS core type to request for a CPU of the given tier.
    static func kernel(forTier tier: Int) -> String? {
        switch tier {
        case 3: "SkylakeX"
        case 2: "Haswell"
        case 1: "Sandybridge"
        default: nil
        }
    }

    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Re-executes the current program with a better OPENBLAS_CORETYPE when the loaded kernel is
    /// weaker than the CPU allows. Call first thing in `main`, before any thread starts.
    /// Returns (only) when no re-execution is needed or possible.
    public static func ensureFastKernel() {
        if getenv(reexecMarker) != nil {
            unsetenv(reexecMarker)
            return
        }
        let cpuTier = tier(ofCPUFlags: cpuFlags())
        guard tier(ofKernel: coreName) < cpuTier, let better = kernel(forTier: cpuTier) else { return }
        setenv("OPENBLAS_CORETYPE", better, 1)
        setenv(reexecMarker, "1", 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        // Only reached when exec failed: keep running on the slow kernel rather than not at all.
        unsetenv(reexecMarker)
        FileHandle.standardError.write(Data("warning: OpenBLAS uses the slow \(coreName) kernel; set OPENBLAS_CORETYPE=\(better) to fix\n".utf8))
    }
}
