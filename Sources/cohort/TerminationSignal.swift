import Dispatch
import Foundation

/// Handles SIGINT and SIGTERM, so a command can shut down gracefully.
enum TerminationSignal {
    /// Suspends until the process receives SIGINT or SIGTERM; returns the signal's name.
    static func wait() async -> String {
        await withCheckedContinuation { continuation in
            onFirst { _, name in continuation.resume(returning: name) }
        }
    }

    /// Calls `handler` with the number and name of the first SIGINT or SIGTERM the process
    /// receives, on a queue of its own; later ones are ignored.
    static func onFirst(_ handler: @escaping @Sendable (Int32, String) -> Void) {
        let queue = DispatchQueue(label: "cohort.signals")
        var sources: [DispatchSourceSignal] = []
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                guard !sources.isEmpty else { return }
                sources.forEach { $0.cancel() }
                sources = []
                handler(number, name)
            }
            sources.append(source)
        }
        queue.sync { sources.forEach { $0.resume() } }
    }
}
