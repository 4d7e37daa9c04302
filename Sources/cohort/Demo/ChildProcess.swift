import Foundation

/// A child `cohort` process whose output goes to a log file; stopped with SIGTERM (gracefully)
/// or SIGKILL, and always reaped. It stops by itself when this process is gone (`ParentWatch`).
final class ChildProcess: @unchecked Sendable {
    let name: String
    let log: URL
    private let process = Process()
    private let lock = NSLock()
    private var stopRequested = false

    init(name: String, arguments: [String], log: URL) throws {
        self.name = name
        self.log = log
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        process.environment = ParentWatch.childEnvironment
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var processIdentifier: Int32 { process.processIdentifier }

    /// SIGTERM, once (a peer logs each one it gets), without waiting for the process to exit.
    func requestStop() {
        let isFirst = lock.withLock {
            defer { stopRequested = true }
            return !stopRequested
        }
        if isFirst && process.isRunning { process.terminate() }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace` seconds.
    func stop(grace: TimeInterval = 20) {
        guard process.isRunning else { return }
        requestStop()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Waits until a line of the log matches `pattern`'s first capture group, or `timeout` passes.
    func waitForLine(capturing pattern: String, timeout: TimeInterval) -> String? {
        let regex = try? NSRegularExpression(pattern: pattern)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOf: log, encoding: .utf8), let regex,
               let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
               let range = Range(match.range(at: 1), in: text) {
                return String(text[range])
            }
            if !process.isRunning { return nil }
            usleep(100_000)
        }
        return nil
    }
}
