import Foundation

/// A child `cohort` process whose output goes to a log file; stopped with SIGTERM (gracefully)
/// or SIGKILL, and always reaped.
final class ChildProcess {
    let name: String
    let log: URL
    private let process = Process()

    init(name: String, arguments: [String], log: URL, environment: [String: String] = [:]) throws {
        self.name = name
        self.log = log
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var processIdentifier: Int32 { process.processIdentifier }

    /// SIGTERM, then SIGKILL if it has not exited within `grace` seconds.
    func stop(grace: TimeInterval = 20) {
        guard process.isRunning else { return }
        process.terminate()
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
