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
        estimator.observe(bytesPerSecond: 2_000_000)
        #expect(estimator.estimate == 2_000_000)
        estimator.observe(bytesPerSecond: 1_000_000)
        #expect(estimator.estimate == 1_500_000)
    }

    @Test func ratesThatSayNothingAreIgnored() {
        var estimator = BandwidthEstimator(firstGuess: 1_000)
        estimator.observe(bytesPerSecond: 0)
        estimator.observe(bytesPerSecond: .infinity)
        estimator.observe(bytesPerSecond: .nan)
        #expect(estimator.estimate == 1_000)
    }

    @Test func observesARoundsInboundRateAndNotItsThroughput() {
        var estimator = BandwidthEstimator(firstGuess: 1)
        var result = AllReduceResult(roundID: 1, participants: [], leftOut: [], totalSamples: 0, bytesSent: 300,
                                     bytesReceived: 100, duration: .milliseconds(500), failedParts: [])
        estimator.observe(result)
        #expect(estimator.announced == 1, "a round without a measured rate leaves the estimate")
        result.inboundBytesPerSecond = 800
        estimator.observe(result)
        #expect(estimator.announced == 800)
    }
}
