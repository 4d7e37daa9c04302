import CohortBase
import DHT
import Testing
import Wire

/// Per-peer token buckets for stores, on a virtual clock (milliseconds).
@Suite struct StoreRateLimiterTests {
    let peers = Fixtures.randomIDs(3, seed: 72)

    func limiter(perMinute: Int = 60, burst: Int = 10, tracked: Int = 100) -> StoreRateLimiter {
        var settings = StoreRateLimiter.Settings()
        settings.recordsPerMinute = perMinute
        settings.burst = burst
        settings.maxTrackedPeers = tracked
        return StoreRateLimiter(settings: settings)
    }

    @Test func aBurstIsAdmittedThenTheRateRefillsIt() {
        var limiter = limiter()
        func admit(_ records: Int, by peer: Int, at time: UInt64) -> Bool { limiter.admit(records, from: peers[peer], now: .at(time)) }
        #expect((0..<10).allSatisfy { _ in admit(1, by: 0, at: 0) })
        #expect(!admit(1, by: 0, at: 0))
        #expect(!admit(1, by: 0, at: 999), "60 per minute: one token per second")
        #expect(admit(1, by: 0, at: 1_000))
        #expect(admit(1, by: 1, at: 1_000), "each peer has its own bucket")
        #expect(admit(10, by: 0, at: 3_600_000), "a long quiet spell refills up to the burst only")
        #expect(!admit(1, by: 0, at: 3_600_000))
    }

    @Test func aRequestForMoreThanTheBucketHoldsIsRefusedWhole() {
        var limiter = limiter()
        func admit(_ records: Int) -> Bool { limiter.admit(records, from: peers[0], now: .at(0)) }
        #expect(!admit(11))
        #expect(admit(10), "the refused request took nothing")
    }

    @Test func forgettingABucketNeverLowersALimit() {
        var limiter = limiter(tracked: 1)
        func admit(_ records: Int, by peer: Int) -> Bool { limiter.admit(records, from: peers[peer], now: .at(0)) }
        #expect(admit(10, by: 0))
        #expect(admit(10, by: 1), "peer 0 is forgotten to make room")
        #expect(!admit(1, by: 1))
    }
}
