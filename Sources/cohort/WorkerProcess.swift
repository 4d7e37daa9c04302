@preconcurrency import Glibc
import Foundation

/// Why an all-reduce bench run or one of its workers stopped, in one line.
struct AllReduceBenchFailure: Error, CustomStringConvertible {
    let description: String
}

/// A child process of this same binary that talks in lines: commands on its stdin, reports on
/// its stdout (its stderr goes to ours). `stop()` kills and reaps it; call it on every path.
final class WorkerProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lock = NSLock()
    private var received: [String] = []
    private var partial: [UInt8] = []
    private var isClosed = false
    let name: String

    /// This binary's path, for a command that starts it through another (e.g. `ip netns exec`).
    static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts `executable arguments…`, by default this same binary.
    init(name: String, executable: String = "/proc/self/exe", arguments: [String]) throws {
        // Writing to a worker that died must fail the write, not kill this process.
        signal(SIGPIPE, SIG_IGN)
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ParentWatch.childEnvironment
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let handle = output.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let data = handle.availableData
                guard !data.isEmpty else { break }
                append(Array(data))
            }
            lock.withLock { isClosed = true }
        }
    }

    private func append(_ bytes: [UInt8]) {
        lock.withLock {
            partial += bytes
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                received.append(String(decoding: partial[..<newline], as: UTF8.self))
                partial.removeSubrange(...newline)
            }
        }
    }

    /// Every line the worker printed so far.
    var lines: [String] { lock.withLock { received } }

    /// Writes a line to the worker's stdin; a worker that already exited misses it (and the
    /// next `line(startingWith:within:)` reports that it exited).
    func send(_ line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Waits until the worker printed a line starting with `prefix` and returns it; fails when
    /// the worker exits first or `seconds` pass.
    func line(startingWith prefix: String, within seconds: Double) async throws -> String {
        try await lines(startingWith: prefix, count: 1, within: seconds)[0]
    }

    /// Waits until the worker printed `count` lines starting with `prefix`; fails when the
    /// worker exits first or `seconds` pass.
    func lines(startingWith prefix: String, count: Int, within seconds: Double) async throws -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let (lines, closed) = lock.withLock { (received, isClosed) }
            let matching = lines.filter { $0.hasPrefix(prefix) }
            if matching.count >= count { return matching }
            if closed { throw AllReduceBenchFailure(description: "\(name) exited after \(matching.count) of \(count) '\(prefix)…' lines") }
            if Date() > deadline {
                throw AllReduceBenchFailure(description: "\(name) printed \(matching.count) of \(count) '\(prefix)…' lines within \(Int(seconds)) s")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Kills the worker with SIGKILL (if it still runs) and reaps it.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }
}
