import ArgumentParser
import Foundation
import Trainer

/// Threads used for matrix products. Several processes on one machine should share the cores.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads for matrix products (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, !(1...512).contains(threads) {
            throw ValidationError("--threads must be between 1 and 512, got \(threads)")
        }
    }

    func apply() {
        BLASRuntime.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
    }
}

enum BundledCorpus {
    /// Tiny Shakespeare, shipped with the binary as the default training text.
    static var url: URL {
        guard let url = Bundle.module.url(forResource: "tinyshakespeare", withExtension: "txt") else {
            fatalError("the bundled corpus is missing from the build; rebuild with 'swift build'")
        }
        return url
    }
}

func printJSON(_ object: Any) {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
          let text = String(data: data, encoding: .utf8) else { return }
    print(text)
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let total = Int(seconds.rounded())
    if total >= 3600 { return "\(total / 3600)h\(String(format: "%02d", total / 60 % 60))m" }
    if total >= 60 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
    return "\(total)s"
}

func formatCount(_ value: Double) -> String {
    if value >= 1e6 { return String(format: "%.2fM", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1fk", value / 1e3) }
    return String(format: "%.0f", value)
}
