import CohortProcessSupport
import Foundation
import Testing

/// A collaborative run of real processes on 127.0.0.1: a peer joins mid-run, one is killed,
/// one leaves gracefully, the coordinator dies and comes back with its history, and a
/// restarted peer catches up by downloading the state.
@Suite(.serialized) struct CollaborativeRunTests {
    static let settings = """
        {"model": {"hidden_size": 16, "layer_count": 1, "head_count": 2, "context_length": 16},
         "batch_size": 4, "temperature": 0.02, "warmup_steps": 2, "steps": 1000}
        """

    struct Run {
        let folder: URL
        let settingsFile: URL
        var stateDir: URL { folder.appendingPathComponent("state") }

        /// A run in a fresh temporary folder holding the settings file; remove the folder after.
        static func inNewFolder() throws -> Run {
            let folder = try CommandRunner.temporaryFolder()
            let settingsFile = folder.appendingPathComponent("settings.json")
            try Data(CollaborativeRunTests.settings.utf8).write(to: settingsFile)
            return Run(folder: folder, settingsFile: settingsFile)
        }
        var journal: URL { stateDir.appendingPathComponent("rounds.jsonl") }

        /// CenteredClip takes every round through the robust aggregation, from the signed config
        /// to each owner; every member still ends with the same average, which the state hashes check.
        func coordinator(listen: String = "127.0.0.1:0", checkpointEvery: Int = 1000, extra: [String] = []) throws -> CohortChildProcess {
            try CohortChildProcess(["coordinator", "--open", "--run", "e2e", "--listen", listen, "--http", "127.0.0.1:0",
                             "--state-dir", stateDir.path, "--config", settingsFile.path, "--target-batch", "12",
                             "--matchmaking-seconds", "1", "--checkpoint-every", "\(checkpointEvery)", "--aggregation", "centered-clip"]
                             + extra,
                            log: folder.appendingPathComponent("coordinator-\(UUID().uuidString.prefix(4)).log"))
        }

        /// The address peers join the started `coordinator` through.
        static func joinAddress(of coordinator: CohortChildProcess) throws -> String {
            try #require(coordinator.firstMatch("peers join with: cohort peer --join (\\S+)", timeout: 60),
                         "coordinator did not start: \(coordinator.output)")
        }

        func peer(_ name: String, join: String, identity: String? = nil, extra: [String] = []) throws -> CohortChildProcess {
            var arguments = ["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"] + extra
            if let identity { arguments += ["--identity", folder.appendingPathComponent(identity).path] }
            return try CohortChildProcess(arguments, log: folder.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(4)).log"))
        }

        /// Steps recorded in the coordinator's journal, in file order.
        var journalSteps: [Int] {
            let text = (try? String(contentsOf: journal, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["step"] as? Int
            }
        }

        var journalMembers: [Int] { journalField("members") }

        var journalSamples: [Int] { journalField("samples") }

        private func journalField(_ name: String) -> [Int] {
            let text = (try? String(contentsOf: journal, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?[name] as? Int
            }
        }
    }

    /// step → state hash prefix, from a peer's "round" log lines.
    static func loggedStates(_ output: String) -> [Int: String] {
        states(output, pattern: "state=([0-9a-f]+) step=([0-9]+) \\[Peer\\] round")
    }

    /// step → state hash prefix, from the "round" log lines of rounds a peer averaged with one other.
    static func statesAveragedInPairs(_ output: String) -> [Int: String] {
        statesAveraged(output, members: 2)
    }

    /// step → state hash prefix, from the "round" log lines of rounds of `members` peers.
    static func statesAveraged(_ output: String, members: Int) -> [Int: String] {
        states(output, pattern: "peers=\(members) samples=[0-9]+ seconds=[0-9.]+ state=([0-9a-f]+) step=([0-9]+) \\[Peer\\] round")
    }

    private static func states(_ output: String, pattern: String) -> [Int: String] {
        let regex = try! NSRegularExpression(pattern: pattern)
        var states: [Int: String] = [:]
        for match in regex.matches(in: output, range: NSRange(output.startIndex..., in: output)) {
            guard let hash = Range(match.range(at: 1), in: output), let step = Range(match.range(at: 2), in: output) else { continue }
            states[Int(output[step])!] = String(output[hash])
        }
        return states
    }

    /// The last lines about rounds, state and hashes in a peer's log, for a failure message.
    static func roundLines(_ output: String) -> String {
        let lines = output.split(separator: "\n").filter { line in
            ["round", "state", "averag", "behind"].contains { line.contains($0) }
        }
        return lines.suffix(25).joined(separator: "\n")
    }

    @Test func runSurvivesJoinsLeavesKillsAndACoordinatorRestart() throws {
        let run = try Run.inNewFolder()
        defer { try? FileManager.default.removeItem(at: run.folder) }

        var coordinator = try run.coordinator()
        let join = try Run.joinAddress(of: coordinator)
        let key = try #require(coordinator.firstMatch("--coordinator-key ([0-9a-f]{64})", timeout: 5))
        let first = try run.peer("peer-1", join: join, identity: "peer-1.key")
        let second = try run.peer("peer-2", join: join)
        #expect(eventually(timeout: 90) { run.journalSteps.count >= 3 }, "no rounds: \(first.output)")
        #expect(run.journalMembers.contains(2))

        let third = try run.peer("peer-3", join: join)
        #expect(eventually(timeout: 90) { run.journalMembers.contains(3) }, "the late peer never averaged: \(third.output)")

        first.kill()
        let afterKill = run.journalSteps.count
        #expect(eventually(timeout: 90) { run.journalSteps.count >= afterKill + 3 }, "the run stopped after a SIGKILL")

        #expect(second.terminate() == 0, "a graceful leave exits cleanly")
        #expect(second.output.contains("left the run"))

        // The coordinator dies; training goes on without it.
        coordinator.kill()
        let journalBefore = run.journalSteps
        let roundsBefore = third.count(of: "[Peer] round")
        #expect(eventually(timeout: 60) { third.count(of: "[Peer] round") >= roundsBefore + 3 }, "training stopped with the coordinator")
        coordinator = try run.coordinator(listen: join)
        #expect(coordinator.firstMatch("peers join with: cohort peer --join (\\S+)", timeout: 60) != nil)
        let catchUpTarget = (journalBefore.last ?? 0) + 3
        #expect(eventually(timeout: 90) { (run.journalSteps.last ?? 0) >= catchUpTarget }, "the coordinator did not catch up")
        let steps = run.journalSteps
        #expect(Array(steps.prefix(journalBefore.count)) == journalBefore, "history lost across the restart")
        #expect(steps == Array(steps.indices), "the journal skips or repeats steps: \(steps)")

        // The killed peer comes back with its identity and downloads the state.
        let returning = try run.peer("peer-1-again", join: join, identity: "peer-1.key", extra: ["--coordinator-key", key])
        #expect(returning.firstMatch("(state loaded)", timeout: 90) != nil, "the returning peer did not load state: \(returning.output)")
        #expect(eventually(timeout: 90) { Self.statesAveragedInPairs(returning.output).count >= 2 },
                "the returning peer never averaged with the other: \(Self.roundLines(returning.output))")
        // A peer killed mid-round can leave members with different parts averaged; the hash
        // check must have brought them back together: the last round both logged agrees.
        let thirdStates = Self.statesAveragedInPairs(third.output), returningStates = Self.statesAveragedInPairs(returning.output)
        let common = Set(thirdStates.keys).intersection(returningStates.keys)
        let lastCommon = try #require(common.max(), "the two peers never logged the same step")
        #expect(thirdStates[lastCommon] == returningStates[lastCommon],
                "peers disagree at step \(lastCommon):\n\(Self.roundLines(third.output))\n---\n\(Self.roundLines(returning.output))")
        _ = third.terminate()
        _ = returning.terminate()
        coordinator.kill()
    }

    /// Local SGD across processes: rounds carry H target batches of inner steps, and the
    /// members end every round with the same shared state. Streaming (two fragments), a round
    /// comes every two target batches and averages half the parameters.
    @Test(arguments: [1, 2]) func peersAveragingEveryFourLocalStepsAgreeOnTheSharedState(fragments: Int) throws {
        let run = try Run.inNewFolder()
        defer { try? FileManager.default.removeItem(at: run.folder) }
        let coordinator = try run.coordinator(extra: ["--local-steps", "4", "--outer-lr", "0.7", "--fragments", "\(fragments)"])
        defer { coordinator.kill() }
        let join = try Run.joinAddress(of: coordinator)
        let first = try run.peer("peer-1", join: join), second = try run.peer("peer-2", join: join)
        defer {
            first.kill()
            second.kill()
        }
        #expect(eventually(timeout: 90) { run.journalMembers.filter { $0 == 2 }.count >= 3 }, "no rounds: \(first.output)")
        // A round is due at 4 ÷ fragments × the target batch of 12. The journal counts each
        // member at its capped weight (at most twice the median), so a round after which one
        // member caught up with few samples counts fewer: a round of two even members shows
        // the batches.
        let samples = zip(run.journalMembers, run.journalSamples).filter { $0.0 == 2 }.map(\.1)
        #expect(samples.contains { $0 >= 48 / fragments - 8 }, "rounds of \(samples) samples")
        #expect(eventually(timeout: 60) {
            let one = Self.statesAveragedInPairs(first.output), other = Self.statesAveragedInPairs(second.output)
            return Set(one.keys).intersection(other.keys).count >= 2
        })
        let one = Self.statesAveragedInPairs(first.output), other = Self.statesAveragedInPairs(second.output)
        for step in Set(one.keys).intersection(other.keys) {
            #expect(one[step] == other[step], "the members disagree after the round of step \(step)")
        }
        // Each peer reports its activity: busy some of the time, averaging bytes per token, and
        // several inner steps in its last round.
        let dashboard = try #require(coordinator.firstMatch("dashboard: (\\S+)", timeout: 5))
        var lastStatus: [String: Any]?
        #expect(eventually(timeout: 30) {
            lastStatus = LateJoinerTests.statusJSON(at: dashboard)
            let peers = lastStatus?["peers"] as? [[String: Any]] ?? []
            return peers.count == 2 && peers.allSatisfy { peer in
                (peer["utilisation"] as? Double).map { $0 > 0 && $0 <= 1 } == true
                    && (peer["bytes_per_token"] as? Double).map { $0 > 0 } == true
                    && (peer["steps_in_last_round"] as? Int).map { $0 >= 1 } == true
            } && (lastStatus?["utilisation"] as? Double).map { $0 > 0 } == true
        }, "status: \(String(describing: lastStatus))")
    }

    @Test func peersJoiningARunEveryoneLeftGoOnFromTheCoordinatorsCheckpoint() throws {
        let run = try Run.inNewFolder()
        defer { try? FileManager.default.removeItem(at: run.folder) }

        let coordinator = try run.coordinator(checkpointEvery: 3)
        defer { coordinator.kill() }
        let join = try Run.joinAddress(of: coordinator)
        let first = try run.peer("peer-1", join: join)
        let second = try run.peer("peer-2", join: join)
        let served = try #require(coordinator.firstMatch("step=([0-9]+) \\[Coordinator\\] serving checkpoint", timeout: 120),
                                  "no checkpoint: \(coordinator.output)")
        let checkpointStep = try #require(Int(served))
        #expect(checkpointStep >= 3)
        // Everyone leaves; the state they trained lives on only in the coordinator's checkpoint.
        _ = first.terminate()
        _ = second.terminate()

        let third = try run.peer("peer-3", join: join)
        let fourth = try run.peer("peer-4", join: join)
        defer {
            third.kill()
            fourth.kill()
        }
        // One of them takes the checkpoint; the other may take it from that one.
        let newcomers = [third, fourth]
        #expect(eventually(timeout: 90) { newcomers.contains { $0.output.contains("going on from the coordinator's checkpoint") } },
                "no new peer took the checkpoint: \(third.output)")
        #expect(eventually(timeout: 90) { newcomers.allSatisfy { $0.count(of: "[Peer] round") >= 2 } },
                "the new peers did not average: \(third.output)")
        for peer in newcomers {
            let steps = Self.loggedStates(peer.output).keys
            #expect(steps.min().map { $0 >= checkpointStep } == true, "the run started over: rounds at steps \(steps.sorted())")
        }
    }

    /// A run of four shards: each peer reads its own shard's records and the shard totals, and
    /// yet they average together, a peer joining later catches up with the state the others
    /// hold (from another shard's donors when its own has none) and averages with them, and the
    /// coordinator sees every shard's peers.
    @Test func peersOfARunInShardsAverageTogetherAndAJoinerCatchesUp() throws {
        let run = try Run.inNewFolder()
        defer { try? FileManager.default.removeItem(at: run.folder) }
        let coordinator = try run.coordinator(extra: ["--shards", "4"])
        defer { coordinator.kill() }
        let join = try Run.joinAddress(of: coordinator)
        let first = try run.peer("peer-1", join: join), second = try run.peer("peer-2", join: join)
        defer {
            first.kill()
            second.kill()
        }
        #expect(eventually(timeout: 90) { run.journalMembers.filter { $0 == 2 }.count >= 3 }, "no rounds: \(first.output)")
        // Each counts the other's samples through the shard totals: a pair's round carries the
        // target of 12 (give or take a micro-batch of 4), not 12 from each.
        let pairSamples = zip(run.journalMembers, run.journalSamples).filter { $0.0 == 2 }.map(\.1).sorted()
        #expect(pairSamples[pairSamples.count / 2] < 22, "rounds of \(pairSamples) samples")
        let third = try run.peer("peer-3", join: join)
        defer { third.kill() }
        #expect(eventually(timeout: 120) { run.journalMembers.contains(3) }, "the joiner never averaged: \(third.output)")
        let dashboard = try #require(coordinator.firstMatch("dashboard: (\\S+)", timeout: 5))
        var lastStatus: [String: Any]?
        #expect(eventually(timeout: 30) {
            lastStatus = LateJoinerTests.statusJSON(at: dashboard)
            return (lastStatus?["peers"] as? [[String: Any]])?.count == 3
        }, "status: \(String(describing: lastStatus))")
        // Rounds of all three: the joiner averaged on the state the others hold.
        #expect(eventually(timeout: 60) {
            Set(Self.statesAveraged(first.output, members: 3).keys).intersection(Self.statesAveraged(third.output, members: 3).keys).count >= 2
        })
        let one = Self.statesAveraged(first.output, members: 3), other = Self.statesAveraged(third.output, members: 3)
        for step in Set(one.keys).intersection(other.keys) {
            #expect(one[step] == other[step], "the first peer and the joiner disagree after the round of step \(step)")
        }
    }
}
