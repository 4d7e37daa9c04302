import CohortProcessSupport
import Foundation
import Testing

/// `cohort bench state-download` on 127.0.0.1: donor processes start, serve, report and stop.
@Suite struct StateDownloadBenchTests {
    struct Report: Decodable {
        let donors: Int
        let bytes: Int
        let links: String
        let seconds: [Double]
        let chunksServed: [Int]
    }

    @Test func twoDonorsServeEveryChunkOfEachRun() throws {
        // Three chunks, the last one short.
        let output = try CommandRunner.run(["bench", "state-download", "--donors", "2", "--bytes", "\((2 << 20) + 1000)",
                                            "--runs", "2", "--json"], timeout: 120)
        #expect(output.status == 0, "\(output.stderr)")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let report = try decoder.decode(Report.self, from: Data(output.stdout.utf8))
        #expect(report.donors == 2 && report.links == "loopback" && report.seconds.count == 2)
        #expect(report.chunksServed.count == 2)
        #expect(report.chunksServed.reduce(0, +) >= 2 * 3, "every chunk of both runs came from a donor")
    }

    @Test(arguments: [["--donor-host", "no-address"], ["--donor-host", "ns@"], ["--donor-host", "n s@10.0.0.1"], ["--bytes", "0"]])
    func badArgumentsAreRefusedBeforeAnythingStarts(_ arguments: [String]) throws {
        let output = try CommandRunner.run(["bench", "state-download"] + arguments, timeout: 60)
        #expect(output.status == 64, "a usage error, not a crash: \(output.stderr)")
    }
}
