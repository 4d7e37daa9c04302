import DHT
import Foundation
import Testing
import Wire

/// A live `cohort peer` process, averaging with another one, receives every `MalformedInput`
/// on its listening port. For each it must log one line naming the problem and close that
/// connection; through all of them it must keep training and averaging.
@Suite(.timeLimit(.minutes(4))) struct LivePeerGarbageTests {
    static let settings = """
        {"model": {"hidden_size": 16, "layer_count": 1, "head_count": 2, "context_length": 16},
         "batch_size": 4, "temperature": 0.02, "warmup_steps": 2, "steps": 100000}
        """

    @Test func aTrainingPeerRefusesMalformedInputLogsItAndTrainsOn() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-garbage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let settingsFile = folder.appendingPathComponent("settings.json")
        try Data(Self.settings.utf8).write(to: settingsFile)

        let coordinator = try CohortProcess(
            ["coordinator", "--run", "garbage", "--open", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
             "--state-dir", folder.appendingPathComponent("state").path, "--config", settingsFile.path,
             "--target-batch", "12", "--matchmaking-seconds", "1", "--checkpoint-every", "1000"],
            log: folder.appendingPathComponent("coordinator.log"))
        let join = try #require(coordinator.waitFor("peers join with: cohort peer --join (\\S+)", timeout: 60),
                                "the coordinator did not start: \(coordinator.output)")
        let target = try CohortProcess(["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"],
                                       log: folder.appendingPathComponent("target.log"))
        let partner = try CohortProcess(["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"],
                                        log: folder.appendingPathComponent("partner.log"))
        defer { [target, partner, coordinator].forEach { $0.kill() } }
        let port = try #require(target.waitFor("address=127\\.0\\.0\\.1:([0-9]+) .*\\[Node\\] listening", timeout: 60).flatMap { UInt16($0) },
                                "the peer did not listen: \(target.output)")
        #expect(target.waitFor("(peers=2 ).*\\[Peer\\] round", timeout: 90) != nil, "the peers never averaged: \(target.output)")

        var random = SystemRandomNumberGenerator()
        for input in MalformedInput.allCases {
            let logStart = target.output.utf8.count
            let client = try RawClient(port: port, timeout: 10)
            defer { client.close() }
            try input.send(over: client, to: nil, maxMessageBytes: Frame.defaultMaxPayloadLength, as: PeerIdentity(using: &random))
            #expect(client.closedByPeer(), "\(input): the peer kept the connection open")
            let (message, reason) = input.logged
            let line = target.waitFor("(.*\(NSRegularExpression.escapedPattern(for: reason)).*\(NSRegularExpression.escapedPattern(for: message)))",
                                      timeout: 10, after: logStart)
            #expect(line != nil, "\(input): no log line \"\(message)\" naming \"\(reason)\": \(target.output.dropFirst(logStart))")
        }

        let roundsBefore = target.count(of: "peers=2 ")
        #expect(target.waitUntil(timeout: 60) { target.count(of: "peers=2 ") >= roundsBefore + 3 },
                "the peer stopped averaging after the malformed input: \(target.output.suffix(2000))")
        #expect(target.isRunning && partner.isRunning, "a peer exited: \(target.output.suffix(2000))")
    }
}

/// A `cohort` child process with its output in a log file, killed when the test lets go.
final class CohortProcess {
    private let process = Process()
    let log: URL

    /// The executable `swift build` writes; NodeTests depends on `cohort`, so building the
    /// tests builds it.
    static var executable: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/cohort")
    }

    init(_ arguments: [String], log: URL) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = Self.executable
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    deinit { kill() }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    func count(of text: String) -> Int { output.components(separatedBy: text).count - 1 }

    /// SIGKILL and reap.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The first capture of `pattern` in the output from byte `after` on, polling for up to `timeout` seconds.
    func waitFor(_ pattern: String, timeout: TimeInterval, after: Int = 0) -> String? {
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
    func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isRunning {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }
}
