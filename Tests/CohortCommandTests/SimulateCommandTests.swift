import CohortProcessSupport
import Foundation
import Testing

/// End-to-end: `cohort simulate` prints the report's fields as JSON and refuses bad flags.
@Suite struct SimulateCommandTests {
    @Test func aShortRunPrintsEveryFieldOfTheReport() throws {
        let result = try CommandRunner.run(["simulate", "--volunteers", "3", "--hours", "0.02", "--parameters-millions", "0.1",
                                            "--target-batch", "64", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for field in ["volunteers", "simulated_seconds", "wall_seconds", "rounds", "utilisation", "matchmaking_success_rate",
                      "mean_group_size", "state_downloads", "dht_messages_per_peer_per_second", "bytes_per_sample"] {
            #expect(report[field] is NSNumber, "\(field) missing from \(result.stdout)")
        }
        #expect(report["volunteers"] as? Int == 3)
        #expect(result.stderr.contains("simulated"), "progress lines go to standard error")
    }

    @Test(arguments: [
        (["--samples-per-second", "64:4"], "--samples-per-second must be LOW:HIGH"),
        (["--latency-ms=-1"], "--latency-ms must be LOW:HIGH"),
        (["--bandwidth-mbit", "fast"], "--bandwidth-mbit must be LOW:HIGH"),
        (["--volunteers", "0"], "--volunteers must be 1…100000"),
        (["--churn", "0.001"], "--churn must be a mean session"),
        (["--samples-per-second", "300,-1"], "--samples-per-second must list up to 100000 positive numbers"),
        (["--samples-per-second", "300,,400"], "--samples-per-second must list up to 100000 positive numbers"),
        (["--dht-request-ms", "nan"], "--dht-request-ms must be 0…1000"),
    ])
    func badFlagsGetAOneLineErrorAndAFailureStatus(flags: [String], message: String) throws {
        let result = try CommandRunner.run(["simulate", "--hours", "0.01"] + flags)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
