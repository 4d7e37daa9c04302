import Testing
@testable import Averaging

@Suite struct BandwidthEstimatorTests {
    @Test func startsAtTheFirstGuess() {
        let estimator = BandwidthEstimator(firstGuess: 12_500_000)
        #expect(estimator.estimate == 12_500_000)
        #expect(estimator.announced == 12_500_000)
    }

    @Test func firstObservationReplacesTheGuessThenAveragesMove() {
        var estimator = BandwidthEstimator(firstGuess: 1_000, smoothing: 0.5)
        estimator.observe(bytes: 4_000_000, seconds: 2)
        #expect(estimator.estimate == 2_000_000)
        estimator.observe(bytes: 1_000_000, seconds: 1)
        #expect(estimator.estimate == 1_500_000)
    }

    @Test func roundsThatMovedNothingAreIgnored() {
        var estimator = BandwidthEstimator(firstGuess: 1_000)
        estimator.observe(bytes: 0, seconds: 3)
        estimator.observe(bytes: 100, seconds: 0)
        #expect(estimator.estimate == 1_000)
    }

    @Test func observesARoundResult() {
        var estimator = BandwidthEstimator(firstGuess: 1)
        let result = AllReduceResult(roundID: 1, participants: [], leftOut: [], totalSamples: 0, bytesSent: 300,
                                     bytesReceived: 100, duration: .milliseconds(500), failedParts: [])
        estimator.observe(result)
        #expect(estimator.announced == 800)
    }
}
