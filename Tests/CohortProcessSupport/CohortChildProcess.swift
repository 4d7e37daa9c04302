import Foundation

/// A long-running `cohort` child for end-to-end tests: output to a log file, signals on
/// demand, and always killed and reaped when the test lets go of it.
public final class CohortChildProcess {
    /// The executable `swift build` writes; the test targets that start children depend on
    /// `cohort`, so building the tests builds it.
    public static var executable: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/cohort")
    }

    /// The red-team suite's hostile peer (`Tests/Attacker`), built beside `cohort`.
    public static var attackerExecutable: URL {
        executable.deletingLastPathComponent().appendingPathComponent("cohort-attacker")
    }

    public let log: URL
    private let process = Process()

    public init(_ arguments: [String], log: URL, executable: URL = CohortChildProcess.executable,
                environment: [String: String] = [:]) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    deinit { kill() }

    public var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    public var isRunning: Bool { process.isRunning }
    public var processIdentifier: Int32 { process.processIdentifier }

    public func count(of text: String) -> Int { output.components(separatedBy: text).count - 1 }

    public func signal(_ number: Int32) {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, number)
    }

    /// SIGKILL and reap.
    public func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// SIGTERM, then waits up to `timeout` seconds for a clean exit; returns the exit status.
    @discardableResult
    public func terminate(timeout: TimeInterval = 30) -> Int32? {
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        guard !process.isRunning else { return nil }
        return process.terminationStatus
    }

    /// The first capture of `pattern` in the output from byte `after` on, polling for up to
    /// `timeout` seconds while the process runs.
    public func firstMatch(_ pattern: String, timeout: TimeInterval, after: Int = 0) -> String? {
        let regex = try! NSRegularExpression(pattern: pattern)
        var capture: String?
        _ = waitUntil(timeout: timeout) {
            let text = String(decoding: output.utf8.dropFirst(after), as: UTF8.self)
            guard let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                  let range = Range(match.range(at: 1), in: text) else { return false }
            capture = String(text[range])
            return true
        }
        return capture
    }

    /// Polls `condition` every 100 ms while the process runs, for up to `timeout` seconds.
    public func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isRunning {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }
}

/// Polls `condition` every 100 ms for up to `timeout` seconds.
public func eventually(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}
