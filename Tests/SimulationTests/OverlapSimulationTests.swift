import CohortBase
import Testing
@testable import Simulation

/// Local SGD with rounds averaged while volunteers train on: on links too slow for a round to
/// fit in the compute of one step, overlapping keeps the trainers busy where blocking idles them.
@Suite struct OverlapSimulationTests {
    static func slowLinks(trainingWhileAveraging: Bool) -> SimulationSettings {
        var settings = SimulationSettings(volunteers: 8, simulatedSeconds: 900, seed: 5)
        settings.parameters = 20_000_000
        settings.targetBatchSize = 256
        settings.localSteps = 16
        settings.clientModeShare = 0.25
        settings.samplesPerSecondRange = 16...32
        settings.bandwidthRange = 20e6...50e6
        settings.trainsWhileAveraging = trainingWhileAveraging
        // Together from the start: a volunteer that arrives after the first round has formed
        // chases the run on these links (docs/simulation.md "What breaks first").
        settings.arrivalSeconds = 2
        return settings
    }

    @Test func trainingThroughTheRoundsKeepsTheTrainersBusyWhereWaitingIdlesThem() throws {
        let overlapped = try RunSimulation(settings: Self.slowLinks(trainingWhileAveraging: true)).run()
        let blocking = try RunSimulation(settings: Self.slowLinks(trainingWhileAveraging: false)).run()
        #expect(overlapped.trainWhileAveraging && !blocking.trainWhileAveraging)
        #expect(overlapped.trainingShareWhileAveraging > 0.9)
        #expect(blocking.trainingShareWhileAveraging == 0)
        #expect(overlapped.hashMismatches == 0 && blocking.hashMismatches == 0)
        #expect(overlapped.meanGroupSize > 7 && blocking.meanGroupSize > 7)
        #expect(overlapped.utilisation > 0.8)
        #expect(overlapped.utilisation > 2 * blocking.utilisation)
        #expect(overlapped.usefulSamplesPerSecond > 2 * blocking.usefulSamplesPerSecond)
    }

    /// Volunteers coming online over a minute, as `cohort simulate` draws them: with seed 5 one
    /// comes after the first round formed and is one step behind from then on.
    static func staggeredArrivals(joiningLate: Bool) -> SimulationSettings {
        var settings = slowLinks(trainingWhileAveraging: true)
        settings.arrivalSeconds = nil
        settings.joinsLate = joiningLate
        return settings
    }

    @Test func aVolunteerOneStepBehindJoinsTheNextRoundInsteadOfChasingTheRun() throws {
        let late = try RunSimulation(settings: Self.staggeredArrivals(joiningLate: true)).run()
        let chasing = try RunSimulation(settings: Self.staggeredArrivals(joiningLate: false)).run()
        #expect(late.lateJoins >= 1 && late.backgroundReplays >= 1)
        #expect(chasing.lateJoins == 0 && chasing.stateReplays > 5, "without late joins it replays every round")
        #expect(late.meanGroupSize > 7.8 && chasing.meanGroupSize < 7.2)
        #expect(late.hashMismatches == 0)
        // 84.8 % against 79.1 %, volunteers training while their groups form (the default); 10
        // points and more when they waited for their groups.
        #expect(late.utilisation > chasing.utilisation + 0.04)
    }

    @Test func perStepAveragingNeverOverlapsWhateverTheFlag() throws {
        var settings = Self.slowLinks(trainingWhileAveraging: true)
        settings.localSteps = 1
        settings.simulatedSeconds = 300
        #expect(!settings.roundsOverlapTraining)
        let report = try RunSimulation(settings: settings).run()
        #expect(report.trainingShareWhileAveraging == 0)
    }
}

@Suite struct TrainingChunkTests {
    let chunk = TrainingChunk(start: Self.at(10), microBatches: 5, samplesPerMicroBatch: 4, samplesPerSecond: 8)

    static func at(_ seconds: Double) -> MonotonicInstant {
        .zero + .seconds(seconds)
    }

    @Test func aChunkTrainsItsMicroBatchesAtTheVolunteersSpeed() {
        #expect(chunk.samples == 20)
        #expect(chunk.seconds == 2.5)
        #expect(chunk.end == Self.at(12.5))
    }

    @Test func aCutEndsWithTheMicroBatchInProgress() {
        #expect(chunk.cut(at: Self.at(10)).microBatches == 1, "the first micro-batch is always trained")
        #expect(chunk.cut(at: Self.at(10.2)).microBatches == 1)
        #expect(chunk.cut(at: Self.at(10.5)).microBatches == 1, "a time on a boundary ends the micro-batch that finishes there")
        #expect(chunk.cut(at: Self.at(10.6)).microBatches == 2)
        #expect(chunk.cut(at: Self.at(99)).microBatches == 5, "never more than the chunk")
    }
}

/// Streaming local SGD in the simulator: rounds come `fragments` times as often, each with a
/// fragment's bytes, so the bytes per sample stay those of the whole vector every H batches.
@Suite struct StreamingSimulationTests {
    @Test func fourFragmentsMakeFourTimesTheRoundsOfAQuarterOfTheBytes() throws {
        var settings = OverlapSimulationTests.slowLinks(trainingWhileAveraging: true)
        settings.bandwidthRange = 200e6...400e6
        let whole = try RunSimulation(settings: settings).run()
        settings.fragments = 4
        let streamed = try RunSimulation(settings: settings).run()
        #expect(whole.hashMismatches == 0 && streamed.hashMismatches == 0)
        #expect(Double(streamed.rounds) > 3 * Double(whole.rounds), "\(streamed.rounds) rounds against \(whole.rounds)")
        #expect(streamed.meanRoundSamples < whole.meanRoundSamples / 3)
        let ratio = streamed.bytesPerSample / whole.bytesPerSample
        #expect(ratio > 0.8 && ratio < 1.25, "bytes per sample \(streamed.bytesPerSample) against \(whole.bytesPerSample)")
    }

    @Test func fragmentsThatDoNotDivideTheLocalStepsAreRefused() {
        var settings = OverlapSimulationTests.slowLinks(trainingWhileAveraging: true)
        settings.fragments = 3
        #expect(throws: SimulationError.self) { try RunSimulation(settings: settings) }
    }
}
