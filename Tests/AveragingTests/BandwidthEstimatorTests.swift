import Testing
@testable import Averaging

@Suite struct BandwidthEstimatorTests {
    @Test func startsAtTheFirstGuess() {
        let estimator = BandwidthEstimator(firstGuess: 12_500_000)
        #expect(estimator.estimate == 12_500_000)
        #expect(estimator.announced == 12_500_000)
    }

    @Test func firstObservationReplacesTheGuessThenTheLowerMedianOfRecentRoundsRules() {
        var estimator = BandwidthEstimator(firstGuess: 1_000, window: 5)
        estimator.observe(bytesPerSecond: 2_000_000)
        #expect(estimator.estimate == 2_000_000)
        estimator.observe(bytesPerSecond: 1_000_000)
        #expect(estimator.estimate == 1_000_000, "the lower of two")
        estimator.observe(bytesPerSecond: 3_000_000)
        #expect(estimator.estimate == 2_000_000)
    }

    /// One round whose chunks all reached a busy owner in one read measures far above the link:
    /// the estimate does not move. A lasting change shows after half the window.
    @Test func oneOddRoundMovesNothingAndALastingChangeShows() {
        var estimator = BandwidthEstimator(firstGuess: 12_500_000, window: 5)
        for rate in [2_000_000.0, 2_100_000, 37_000_000, 1_900_000, 2_050_000] {
            estimator.observe(bytesPerSecond: rate)
            #expect(estimator.estimate <= 2_100_000)
        }
        estimator.observe(bytesPerSecond: 200_000)
        #expect(estimator.estimate == 2_050_000, "one slow round does not halve the share")
        estimator.observe(bytesPerSecond: 20_000_000)
        estimator.observe(bytesPerSecond: 20_000_000)
        #expect(estimator.estimate == 2_050_000)
        estimator.observe(bytesPerSecond: 20_000_000)
        #expect(estimator.estimate == 20_000_000, "three rounds of five at the new rate")
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
