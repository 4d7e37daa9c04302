import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's peak resident memory, for the experiments' memory reports.
enum PeakMemory {
    /// Resets Linux's high-water mark (clear_refs 5), so that the next reading is the peak of
    /// what runs in between rather than of the whole process's life. Elsewhere a no-op.
    static func reset() {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
        try? handle.write(contentsOf: Data("5".utf8))
        try? handle.close()
    }

    /// VmHWM where /proc exists (it honours `reset()`), else getrusage's lifetime maximum.
    static func peakMiB() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kibibytes = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") {
            return kibibytes / 1024
        }
        var usage = rusage()
        #if canImport(Darwin)
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576  // bytes on Darwin
        #else
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024  // KiB on Linux
        #endif
    }
}
