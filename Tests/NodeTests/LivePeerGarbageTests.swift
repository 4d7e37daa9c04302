import CohortProcessSupport
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

        let coordinator = try CohortChildProcess(
            ["coordinator", "--run", "garbage", "--open", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
             "--state-dir", folder.appendingPathComponent("state").path, "--config", settingsFile.path,
             "--target-batch", "12", "--matchmaking-seconds", "1", "--checkpoint-every", "1000"],
            log: folder.appendingPathComponent("coordinator.log"))
        let join = try #require(coordinator.firstMatch("peers join with: cohort peer --join (\\S+)", timeout: 60),
                                "the coordinator did not start: \(coordinator.output)")
        let target = try CohortChildProcess(["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"],
                                       log: folder.appendingPathComponent("target.log"))
        let partner = try CohortChildProcess(["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"],
                                        log: folder.appendingPathComponent("partner.log"))
        defer { [target, partner, coordinator].forEach { $0.kill() } }
        let port = try #require(target.firstMatch("address=127\\.0\\.0\\.1:([0-9]+) .*\\[Node\\] listening", timeout: 60).flatMap { UInt16($0) },
                                "the peer did not listen: \(target.output)")
        #expect(target.firstMatch("(peers=2 ).*\\[Peer\\] round", timeout: 90) != nil, "the peers never averaged: \(target.output)")

        var random = SystemRandomNumberGenerator()
        for input in MalformedInput.allCases {
            let logStart = target.output.utf8.count
            let client = try RawClient(port: port, timeout: 10)
            defer { client.close() }
            try input.send(over: client, to: nil, maxMessageBytes: Frame.defaultMaxPayloadLength, as: PeerIdentity(using: &random))
            #expect(client.closedByPeer(), "\(input): the peer kept the connection open")
            let (message, reason) = input.logged
            let line = target.firstMatch("(.*\(NSRegularExpression.escapedPattern(for: reason)).*\(NSRegularExpression.escapedPattern(for: message)))",
                                      timeout: 10, after: logStart)
            #expect(line != nil, "\(input): no log line \"\(message)\" naming \"\(reason)\": \(target.output.dropFirst(logStart))")
        }

        let roundsBefore = target.count(of: "peers=2 ")
        #expect(target.waitUntil(timeout: 60) { target.count(of: "peers=2 ") >= roundsBefore + 3 },
                "the peer stopped averaging after the malformed input: \(target.output.suffix(2000))")
        #expect(target.isRunning && partner.isRunning, "a peer exited: \(target.output.suffix(2000))")
    }
}
