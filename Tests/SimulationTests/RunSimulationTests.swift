import DHT
import Testing
@testable import Simulation

/// Whole runs on the virtual clock: small enough for the suite, checked against what the
/// protocol promises.
@Suite struct RunSimulationTests {
    static func settings(volunteers: Int, seconds: Double, seed: UInt64 = 3, churn: Double? = nil) -> SimulationSettings {
        var settings = SimulationSettings(volunteers: volunteers, simulatedSeconds: seconds, seed: seed, meanSessionSeconds: churn)
        settings.parameters = 1_000_000
        settings.targetBatchSize = 256
        settings.clientModeShare = 0.25
        return settings
    }

    @Test func fourSteadyVolunteersAverageTogetherEveryStepAndNeverDisagree() throws {
        let report = try RunSimulation(settings: Self.settings(volunteers: 4, seconds: 600)).run()
        #expect(report.rounds >= 20)
        #expect(report.meanGroupSize > 3.5)
        #expect(report.hashMismatches == 0)
        #expect(report.matchmakingSuccessRate > 0.9)
        #expect(report.steps >= report.rounds)
        #expect(report.utilisation > 0 && report.utilisation < 1)
        #expect(report.sessions == 4)
    }

    @Test func theSameSeedGivesTheSameRun() throws {
        var first = try RunSimulation(settings: Self.settings(volunteers: 12, seconds: 300, churn: 120)).run()
        var second = try RunSimulation(settings: Self.settings(volunteers: 12, seconds: 300, churn: 120)).run()
        first.wallSeconds = 0
        second.wallSeconds = 0
        #expect(first == second)
        #expect(first.sessions > 12, "churn replaces the volunteers that leave")
    }

    @Test func aRunOfFourShardsAveragesInGroupsAndTheSameSeedGivesTheSameRun() throws {
        var settings = Self.settings(volunteers: 48, seconds: 360)
        settings.shards = 4
        let report = try RunSimulation(settings: settings).run()
        #expect(report.shards == 4)
        #expect(report.rounds >= 20)
        #expect(report.meanGroupSize > 5, "volunteers average in groups, not alone")
        var again = try RunSimulation(settings: settings).run()
        again.wallSeconds = report.wallSeconds
        #expect(again == report)
    }

    @Test func joinersUnderChurnDownloadTheStateAndTheRunGoesOn() throws {
        let report = try RunSimulation(settings: Self.settings(volunteers: 8, seconds: 1_200, churn: 300)).run()
        #expect(report.sessions > 8)
        #expect(report.stateDownloads > 0)
        #expect(report.rounds > 10)
    }

    @Test(arguments: [
        (SimulationSettings(volunteers: 0, simulatedSeconds: 60, seed: 1), "--volunteers"),
        (SimulationSettings(volunteers: 4, simulatedSeconds: 0, seed: 1), "--hours"),
        (SimulationSettings(volunteers: 4, simulatedSeconds: 60, seed: 1, meanSessionSeconds: 1), "--churn"),
    ])
    func settingsThatDescribeNoRunAreRefusedWithTheirFlag(settings: SimulationSettings, flag: String) {
        #expect { try RunSimulation(settings: settings) } throws: { "\($0)".contains(flag) }
    }
}

/// A real run's machines reproduced: each volunteer gets the listed speed, in the order they
/// come online.
@Suite struct VolunteerProfileTests {
    @Test func listedSpeedsGoToTheVolunteersInTurn() {
        var settings = SimulationSettings(volunteers: 3, simulatedSeconds: 60, seed: 1)
        settings.samplesPerSecondEach = [360, 403, 393]
        var random = SplitMix64(seed: 1)
        let speeds = (0..<5).map { VolunteerProfile.draw(from: settings, session: $0, using: &random).samplesPerSecond }
        #expect(speeds == [360, 403, 393, 360, 403])
    }

    @Test func aListWithoutAPositiveSpeedIsRefused() {
        var settings = SimulationSettings(volunteers: 3, simulatedSeconds: 60, seed: 1)
        for list in [[], [300, 0], [300, .nan]] as [[Double]] {
            settings.samplesPerSecondEach = list
            #expect(throws: SimulationError.self) { try settings.validate() }
        }
    }
}
