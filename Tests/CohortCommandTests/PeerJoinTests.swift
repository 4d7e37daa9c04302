import CohortProcessSupport
import Foundation
import Testing

/// What a volunteer sees when the address it joins through does not answer.
struct PeerJoinTests {
    /// The peer keeps trying for a minute (the coordinator may still be starting), and says so
    /// at once instead of staying silent until it gives up.
    @Test func aPeerWhoseJoinAddressDoesNotAnswerSaysItIsStillTrying() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Nothing listens on port 1 of 127.0.0.1: every dial is refused.
        let peer = try CohortChildProcess(["peer", "--join", "127.0.0.1:1", "--listen", "127.0.0.1:0", "--threads", "1"],
                                          log: folder.appendingPathComponent("peer.log"))
        defer { peer.kill() }
        let notice = peer.firstMatch("(no node answers at 127\\.0\\.0\\.1:1 yet; trying again for up to [0-9]+ s)", timeout: 30)
        #expect(notice != nil, "no word while retrying: \(peer.output)")
        #expect(peer.isRunning, "it gave up before its minute was over: \(peer.output)")
        // Stopped while still trying, it says that, not that nobody answered.
        #expect(peer.terminate().map { $0 != 0 } == true, "it did not exit with an error")
        #expect(peer.output.contains("stopped before joining the run"), "\(peer.output)")
        #expect(!peer.output.contains("no node answered"), "\(peer.output)")
    }
}
