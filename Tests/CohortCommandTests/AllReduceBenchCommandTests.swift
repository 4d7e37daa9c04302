import CohortProcessSupport
import Foundation
import Testing

/// `cohort bench allreduce` with its placement options: workers started through a wrapper
/// command, listening where `--hosts` says, declaring the bandwidths parts follow.
@Suite struct AllReduceBenchCommandTests {
    struct Report: Decodable {
        let peers: Int
        let agreed: Bool
        let bytesSentPerWorker: [Int]
        let bytesReceivedPerWorker: [Int]
    }

    @Test func wrappedWorkersSplitTheVectorByTheBandwidthsTheyDeclare() throws {
        let output = try CommandRunner.run(["bench", "allreduce", "--peers", "3", "--size", "21000", "--rounds", "1",
                                            "--hosts", "127.0.0.1,127.0.0.1,127.0.0.1", "--wrap", "env COHORT_BENCH_WORKER={i}",
                                            "--bandwidths-mbit", "100,100,10", "--no-same-host-copies", "--json"], timeout: 120)
        #expect(output.status == 0, "\(output.stderr)")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let report = try decoder.decode(Report.self, from: Data(output.stdout.utf8))
        #expect(report.peers == 3 && report.agreed)
        // A member sends the vector less its own part, plus its part's average to each of the
        // other two: S + p. The slow worker owns a tenth of what each fast one owns.
        let sent = report.bytesSentPerWorker
        #expect(sent.count == 3 && abs(sent[0] - sent[1]) <= 64 && Double(sent[0]) > 1.3 * Double(sent[2]), "bytes sent per worker: \(sent)")
        #expect(report.bytesReceivedPerWorker == sent)
    }

    @Test(arguments: [["--hosts", "127.0.0.1"], ["--hosts", "127.0.0.1,10.0.0.256"], ["--hosts", "127.0.0.1,::1"],
                      ["--bandwidths-mbit", "10,x"], ["--bandwidths-mbit", "10,0"],
                      ["--hosts", "127.0.0.1,127.0.0.2", "--wrap", "ip netns exec lab"]])
    func badPlacementsAreRefusedBeforeAnyWorkerStarts(_ arguments: [String]) throws {
        let output = try CommandRunner.run(["bench", "allreduce", "--peers", "2"] + arguments, timeout: 60)
        #expect(output.status == 64, "a usage error, not a crash: \(output.stderr)")
        #expect(output.stderr.split(separator: "\n").contains { $0.hasPrefix("Error: ") }, "\(output.stderr)")
    }
}
