import Dispatch
import Foundation
import Logging
import Peer
import Node

/// Sets a `StopSignal` on SIGINT or SIGTERM, so a long-running command finishes its current
/// work (a round, a journal line) and leaves cleanly instead of dying mid-write.
enum SignalStop {
    /// Keep the returned sources alive for as long as the signals should be handled.
    static func install(_ stop: StopSignal, onSignal: @escaping @Sendable (String) -> Void = { _ in }) -> [DispatchSourceSignal] {
        let queue = DispatchQueue(label: "cohort.signals")
        return [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")].map { number, name in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                onSignal(name)
                stop.stop()
            }
            source.resume()
            return source
        }
    }
}

func makeLogger(_ label: String, level: Logger.Level = .info) -> Logger {
    LoggingSystem.bootstrap(StreamLogHandler.standardError)
    var logger = Logger(label: label)
    logger.logLevel = level
    return logger
}

