import Foundation

/// A long-running `cohort` child for end-to-end tests: output to a log file, signals on
/// demand, and always killed and reaped when the test lets go of it.
final class TestProcess {
    let log: URL
    private let process = Process()

    init(_ arguments: [String], log: URL) throws {
        self.log = log
        process.executableURL = CommandRunner.executable
        process.arguments = arguments
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    deinit { kill() }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    func signal(_ number: Int32) {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, number)
    }

    /// SIGKILL and reap.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM, then waits up to `timeout` seconds for a clean exit; returns the exit status.
    @discardableResult
    func terminate(timeout: TimeInterval = 30) -> Int32? {
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        guard !process.isRunning else { return nil }
        return process.terminationStatus
    }

    /// The first capture of `pattern` in the output, waiting up to `timeout` seconds.
    func firstMatch(_ pattern: String, timeout: TimeInterval) -> String? {
        let regex = try! NSRegularExpression(pattern: pattern)
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let text = output
            if let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
               let range = Range(match.range(at: 1), in: text) {
                return String(text[range])
            }
            usleep(100_000)
        } while Date() < deadline && process.isRunning
        return nil
    }

    func count(of text: String) -> Int { output.components(separatedBy: text).count - 1 }
}

/// Polls `condition` every 100 ms for up to `timeout` seconds.
func eventually(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}
