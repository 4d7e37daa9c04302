import Dispatch
import Foundation

/// Waits for SIGINT or SIGTERM, so a node can shut down gracefully.
enum TerminationSignal {
    /// Suspends until the process receives SIGINT or SIGTERM; returns the signal's name.
    static func wait() async -> String {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "cohort.signals")
            var sources: [DispatchSourceSignal] = []
            for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    guard !sources.isEmpty else { return }
                    sources.forEach { $0.cancel() }
                    sources = []
                    continuation.resume(returning: name)
                }
                sources.append(source)
            }
            queue.sync { sources.forEach { $0.resume() } }
        }
    }
}
