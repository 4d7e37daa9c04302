import CohortProcessSupport
import Foundation
import Testing

/// A prompt-tuning run of real processes: a coordinator names a frozen base by hash, two peers
/// holding it tune the prompt together and agree on it after every round, the coordinator keeps
/// prompt checkpoints, and peers without the base, or with another one, are refused.
@Suite(.serialized) struct PromptTuningProcessTests {
    static let settings = """
        {"model": {"hidden_size": 16, "layer_count": 1, "head_count": 2, "context_length": 128},
         "batch_size": 4, "learning_rate": 0.3, "warmup_steps": 2, "steps": 1000}
        """

    @Test func peersTuneThePromptOfTheBaseTheRunNamesAndAgreeOnIt() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let settingsFile = folder.appendingPathComponent("settings.json")
        try Data(Self.settings.utf8).write(to: settingsFile)
        let base = folder.appendingPathComponent("base"), other = folder.appendingPathComponent("other")
        for (output, seed) in [(base, "1"), (other, "2")] {
            let trained = try CommandRunner.run(["train", "--config", settingsFile.path, "--steps", "2", "--seed", seed,
                                                 "--output", output.path, "--threads", "1"])
            #expect(trained.status == 0, "cohort train: \(trained.stderr)")
        }
        let stateDir = folder.appendingPathComponent("state")
        let coordinator = try CohortChildProcess(
            ["coordinator", "--open", "--run", "prompt", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
             "--state-dir", stateDir.path, "--config", settingsFile.path, "--target-batch", "8", "--matchmaking-seconds", "1",
             "--checkpoint-every", "2", "--prompt-tuning-base", base.path, "--prompt-length", "4", "--shots", "8"],
            log: folder.appendingPathComponent("coordinator.log"))
        defer { coordinator.kill() }
        let join = try #require(coordinator.firstMatch("peers join with: cohort peer --join (\\S+)", timeout: 60),
                                "coordinator did not start: \(coordinator.output)")
        func peer(_ name: String, extra: [String]) throws -> CohortChildProcess {
            try CohortChildProcess(["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"] + extra,
                                   log: folder.appendingPathComponent("\(name).log"))
        }
        let first = try peer("peer-1", extra: ["--base", base.path]), second = try peer("peer-2", extra: ["--base", base.path])
        defer {
            first.kill()
            second.kill()
        }
        let withoutBase = try CommandRunner.run(["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"], timeout: 120)
        #expect(withoutBase.status != 0 && withoutBase.stderr.contains("--base"), "peer without the base: \(withoutBase.stderr)")
        let wrongBase = try CommandRunner.run(["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1", "--base", other.path],
                                              timeout: 120)
        #expect(wrongBase.status != 0 && wrongBase.stderr.contains("differs from the run's"), "peer with another base: \(wrongBase.stderr)")

        #expect(eventually(timeout: 120) {
            let one = CollaborativeRunTests.statesAveragedInPairs(first.output)
            let two = CollaborativeRunTests.statesAveragedInPairs(second.output)
            return Set(one.keys).intersection(two.keys).count >= 2
        }, "no rounds of two: \(CollaborativeRunTests.roundLines(first.output))")
        let one = CollaborativeRunTests.statesAveragedInPairs(first.output), two = CollaborativeRunTests.statesAveragedInPairs(second.output)
        for step in Set(one.keys).intersection(two.keys) {
            #expect(one[step] == two[step], "the members disagree after the round of step \(step)")
        }
        // The rounds move the prompt (4 + 2 rows of 16 floats, 384 bytes), not the model (30 KB).
        var sent: [Int] = []
        #expect(eventually(timeout: 60) {
            let journal = (try? String(contentsOf: stateDir.appendingPathComponent("rounds.jsonl"), encoding: .utf8)) ?? ""
            sent = journal.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["bytesSent"] as? Int
            }
            return sent.count >= 2
        }, "no rounds journaled: \(coordinator.output)")
        #expect(sent.allSatisfy { $0 < 4096 }, "bytes sent per round: \(sent)")
        #expect(eventually(timeout: 60) {
            let checkpoints = (try? FileManager.default.contentsOfDirectory(atPath: stateDir.appendingPathComponent("checkpoints").path)) ?? []
            return checkpoints.contains { name in
                name.hasPrefix("step-") && FileManager.default.fileExists(
                    atPath: stateDir.appendingPathComponent("checkpoints/\(name)/prompt.safetensors").path)
            }
        }, "no prompt checkpoint: \(coordinator.output)")
    }
}
