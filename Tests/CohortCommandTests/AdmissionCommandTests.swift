import CohortProcessSupport
import Foundation
import Testing

/// `cohort token` and the admission flags of `cohort peer`, run as a user would: keys printed,
/// tokens issued, shown and revoked, every bad input refused with a one-line reason, and an
/// admitted-only run in which only tokened peers take part until one is revoked.
@Suite(.serialized) struct AdmissionCommandTests {
    /// Prints (creating) the public key of the identity file at `path`, as a volunteer does.
    static func printKey(_ path: String) throws -> String {
        let output = try CommandRunner.run(["peer", "--identity", path, "--print-key"])
        #expect(output.status == 0, "\(output.stderr)")
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func operatorIssuesShowsAndRevokesTokens() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let state = folder.appendingPathComponent("state").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let runKey = try Self.printKey(state + "/identity")
        let alice = try Self.printKey(folder.appendingPathComponent("alice.key").path)
        #expect(alice.count == 64 && alice != runKey)

        let tokenFile = folder.appendingPathComponent("alice.token").path
        let issued = try CommandRunner.run(["token", "issue", "--run", "e2e", "--state-dir", state, "--peer-key", alice,
                                            "--name", "alice", "--expires", "2h", "--out", tokenFile])
        #expect(issued.status == 0, "\(issued.stderr)")
        #expect(issued.stdout.contains("token for alice"))
        let shown = try CommandRunner.run(["token", "show", tokenFile, "--json"])
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        #expect(fields["run"] as? String == "e2e")
        #expect(fields["name"] as? String == "alice")
        #expect(fields["peer_key"] as? String == alice)
        #expect(fields["issuer_key"] as? String == runKey)
        #expect(fields["signature_valid"] as? Bool == true)

        let printed = try CommandRunner.run(["token", "issue", "--run", "e2e", "--state-dir", state, "--peer-key", alice, "--name", "a2"])
        #expect(printed.stdout.hasPrefix("cohort-access-token-v1 "))

        let first = try CommandRunner.run(["token", "revoke", "--run", "e2e", "--state-dir", state, "--token", tokenFile])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("revocation list 1 of run e2e revokes 1 key(s)"))
        let bob = try Self.printKey(folder.appendingPathComponent("bob.key").path)
        let second = try CommandRunner.run(["token", "revoke", "--run", "e2e", "--state-dir", state, "--peer-key", bob])
        #expect(second.stdout.contains("revocation list 2 of run e2e revokes 2 key(s)"), "\(second.stderr)")
        let list = try String(contentsOfFile: state + "/revocations", encoding: .utf8)
        #expect(list.hasPrefix("cohort-revocation-list-v1 "))
    }

    @Test func badAdmissionInputGetsAOneLineErrorAndAFailureStatus() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let garbage = folder.appendingPathComponent("garbage.token").path
        try Data("not a token\n".utf8).write(to: URL(fileURLWithPath: garbage))
        let key = String(repeating: "ab", count: 32)
        let cases: [([String], String)] = [
            (["token", "issue", "--run", "e2e", "--state-dir", folder.path, "--peer-key", key, "--name", "x"],
             "no run key at \(folder.path)/identity"),
            (["token", "issue", "--run", "e2e", "--peer-key", "zz", "--name", "x"],
             "--peer-key must be 64 hex digits or a file holding them; \"zz\" is neither"),
            (["token", "issue", "--run", "e2e", "--peer-key", key, "--name", "x", "--expires", "3x"],
             "--expires must be a positive number followed by s, m, h or d"),
            // Its milliseconds overflow 64 bits: the count is bounded before it is multiplied.
            (["token", "issue", "--run", "e2e", "--peer-key", key, "--name", "x", "--expires", "213503982334601d"],
             "--expires must be a positive number followed by s, m, h or d"),
            (["token", "issue", "--run", "bad name", "--peer-key", key, "--name", "x"], "--run \"bad name\" must be"),
            (["token", "revoke", "--run", "e2e"], "give at least one --peer-key or --token to revoke"),
            (["token", "show", garbage], "token file \(garbage): access token: does not start with \"cohort-access-token-v1 \""),
            (["peer", "--join", "127.0.0.1:1", "--token", folder.appendingPathComponent("absent").path], "cannot read"),
            (["peer", "--join", "127.0.0.1:1", "--token", garbage], "does not start with \"cohort-access-token-v1 \""),
            (["peer", "--print-key"], "--print-key needs --identity FILE"),
        ]
        for (arguments, message) in cases {
            let output = try CommandRunner.run(arguments)
            #expect(output.status != 0, "\(arguments) succeeded")
            #expect(output.stderr.contains(message), "\(arguments): \(output.stderr)")
        }
    }

    @Test func onlyTokenedPeersJoinAnAdmittedOnlyRunAndAverageTogether() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let settingsFile = folder.appendingPathComponent("settings.json")
        try Data(CollaborativeRunTests.settings.utf8).write(to: settingsFile)
        let run = CollaborativeRunTests.Run(folder: folder, settingsFile: settingsFile)
        try FileManager.default.createDirectory(at: run.stateDir, withIntermediateDirectories: true)
        _ = try Self.printKey(run.stateDir.appendingPathComponent("identity").path)
        for name in ["alice", "bob"] {
            let key = try Self.printKey(folder.appendingPathComponent("\(name).key").path)
            let issued = try CommandRunner.run(["token", "issue", "--run", "e2e", "--state-dir", run.stateDir.path, "--peer-key", key,
                                                "--name", name, "--out", folder.appendingPathComponent("\(name).token").path])
            #expect(issued.status == 0, "\(issued.stderr)")
        }
        let tokenFile = folder.appendingPathComponent("alice.token").path

        let coordinator = try CohortChildProcess(
            ["coordinator", "--run", "e2e", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--state-dir", run.stateDir.path,
             "--config", settingsFile.path, "--target-batch", "12", "--checkpoint-every", "1000"],
            log: folder.appendingPathComponent("coordinator.log"))
        let join = try #require(coordinator.firstMatch("peers join with: cohort peer --join (\\S+) --token FILE", timeout: 60),
                                "coordinator did not start: \(coordinator.output)")

        let outsider = try CommandRunner.run(["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"], timeout: 60)
        #expect(outsider.status != 0)
        #expect(outsider.stderr.contains("refused: no access token presented"), "\(outsider.stderr)")

        let thief = try CommandRunner.run(["peer", "--join", join, "--token", tokenFile,
                                           "--identity", folder.appendingPathComponent("mallory.key").path], timeout: 60)
        #expect(thief.status != 0)
        #expect(thief.stderr.contains("cannot use the access token: the access token was issued to another peer key"), "\(thief.stderr)")

        let alice = try run.peer("alice", join: join, identity: "alice.key", extra: ["--token", tokenFile])
        let bob = try run.peer("bob", join: join, identity: "bob.key",
                               extra: ["--token", folder.appendingPathComponent("bob.token").path])
        #expect(alice.firstMatch("(joined run)", timeout: 90) != nil, "the tokened peer did not join: \(alice.output)")
        #expect(eventually(timeout: 90) { run.journalMembers.contains(2) }, "the tokened peers never averaged together: \(bob.output)")

        // Revoking bob: the coordinator picks up the new list and cuts him off; he stops with the reason.
        let revoked = try CommandRunner.run(["token", "revoke", "--run", "e2e", "--state-dir", run.stateDir.path,
                                             "--token", folder.appendingPathComponent("bob.token").path])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(eventually(timeout: 60) { !bob.isRunning }, "the revoked peer is still running: \(bob.output)")
        #expect(bob.output.contains("refuses this peer: its key is revoked")
                || bob.output.contains("Error: the run revoked this peer's key"), "\(bob.output)")
        #expect(coordinator.output.contains("revocation list in force"))
        #expect(alice.isRunning)
        #expect(alice.terminate() == 0)
        coordinator.kill()
    }
}
