import CohortProcessSupport
import Foundation
import Testing

/// `cohort demo` leaves nothing behind: its coordinator and peers (in process groups of their
/// own, so a signal to the demo does not reach them) stop with it, whether it is interrupted or
/// killed outright.
@Suite(.serialized) struct DemoSignalTests {
    /// A process found in /proc; its start time tells it from a later process with the same pid.
    struct ProcessEntry: Equatable {
        let pid: Int32
        let startTime: String

        /// The process's state letter, its parent's pid and its start time, from /proc/<pid>/stat.
        static func stat(of pid: Int32) -> (state: String, parent: Int32, startTime: String)? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let nameEnd = text.lastIndex(of: ")") else { return nil }
            // After the name: state, ppid, … starttime is field 22 of the whole line.
            let fields = text[text.index(after: nameEnd)...].split(separator: " ")
            guard fields.count > 19, let parent = Int32(fields[1]) else { return nil }
            return (String(fields[0]), parent, String(fields[19]))
        }

        static func children(of parent: Int32) -> [ProcessEntry] {
            let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
            return pids.compactMap { pid in
                guard let stat = stat(of: pid), stat.parent == parent, stat.state != "Z" else { return nil }
                return ProcessEntry(pid: pid, startTime: stat.startTime)
            }
        }

        /// Still running: the same process (not a reused pid) and not a zombie waiting to be reaped.
        var isAlive: Bool {
            guard let stat = Self.stat(of: pid) else { return false }
            return stat.startTime == startTime && stat.state != "Z"
        }
    }

    /// Starts a demo with one peer, waits until its coordinator and peer run, hands them to
    /// `body`, and kills whatever is left afterwards, passed or failed.
    func withDemoChildren(_ body: (CohortChildProcess, [ProcessEntry]) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let demo = try CohortChildProcess(["demo", "--peers", "1", "--steps", "4", "--minutes", "5",
                                           "--state-dir", folder.appendingPathComponent("run").path],
                                          log: folder.appendingPathComponent("demo.log"))
        let demoPID = demo.processIdentifier
        var seen: [ProcessEntry] = []
        defer {
            seen += ProcessEntry.children(of: demoPID).filter { !seen.contains($0) }
            demo.kill()
            for child in seen where child.isAlive { kill(child.pid, SIGKILL) }
            try? FileManager.default.removeItem(at: folder)
        }
        let started = demo.waitUntil(timeout: 600) {
            seen = ProcessEntry.children(of: demoPID)
            return seen.count >= 2
        }
        try #require(started, "the demo did not start its coordinator and peer: \(demo.output)")
        try body(demo, seen)
    }

    @Test func sigtermStopsTheCoordinatorAndPeersAndExitsWith143() throws {
        try withDemoChildren { demo, children in
            #expect(demo.terminate(timeout: 120) == 128 + SIGTERM)
            #expect(eventually(timeout: 60) { children.allSatisfy { !$0.isAlive } })
        }
    }

    @Test func theCoordinatorAndPeersStopWhenTheDemoIsKilled() throws {
        try withDemoChildren { demo, children in
            demo.kill()
            #expect(eventually(timeout: 60) { children.allSatisfy { !$0.isAlive } })
        }
    }
}
