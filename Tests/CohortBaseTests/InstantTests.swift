import CohortBase
import Testing

@Suite struct InstantTests {
    @Test func monotonicInstantsOrderAndMoveByDurations() {
        let start = MonotonicInstant(nanoseconds: 5)
        let later = start + .milliseconds(2)
        #expect(start < later && later.nanoseconds == 2_000_005)
        #expect(later - start == .milliseconds(2))
        #expect(start - later == .milliseconds(-2))
    }

    @Test func wallClockInstantsCountWholeMillisecondsFromTheEpoch() {
        let start = WallClockInstant(millisecondsSinceEpoch: 1_800_000_000_000)
        let later = start + .seconds(60)
        #expect(start < later && later.millisecondsSinceEpoch == 1_800_000_060_000)
        #expect(later - start == .seconds(60))
        #expect(start - later == .seconds(-60))
        #expect(later - .seconds(60) == start)
        #expect((start + .microseconds(1_999)).millisecondsSinceEpoch == 1_800_000_000_001)
        #expect(WallClockInstant.epoch - .seconds(1) == .epoch)
    }

    @Test func aWallClockInstantAPeerSentNearTheEndOfU64SaturatesInsteadOfTrapping() {
        let far = WallClockInstant(millisecondsSinceEpoch: .max - 10)
        #expect((far + .seconds(3600)).millisecondsSinceEpoch == UInt64.max)
        #expect((far + .milliseconds(10)).millisecondsSinceEpoch == UInt64.max)
        #expect((far + .milliseconds(9)).millisecondsSinceEpoch == UInt64.max - 1)
        #expect(far - WallClockInstant.epoch > .zero)
    }

    @Test func durationsCountWholeMillisecondsTowardZero() {
        #expect(Duration.seconds(90).wholeMilliseconds == 90_000)
        #expect(Duration.microseconds(1_999).wholeMilliseconds == 1)
        #expect(Duration.microseconds(-1_999).wholeMilliseconds == -1)
    }

    /// A test moves one clock and both readings follow: the session's deadlines and the times
    /// it writes into records stay in step, as they do on a real peer.
    @Test func theManualClockMovesBothReadingsTogether() {
        let clock = ManualClock(wall: WallClockInstant(millisecondsSinceEpoch: 1_000))
        #expect(clock.now() == ClockReading(monotonic: .zero, wall: WallClockInstant(millisecondsSinceEpoch: 1_000)))
        clock.advance(by: .milliseconds(250))
        clock.advance(to: .zero + .seconds(1))
        clock.advance(to: .zero)
        #expect(clock.now() == ClockReading(monotonic: .zero + .seconds(1), wall: WallClockInstant(millisecondsSinceEpoch: 2_000)))
    }

    @Test func theSystemClockMovesForward() {
        let clock = SystemClock()
        let first = clock.now()
        let second = clock.now()
        #expect(first.monotonic <= second.monotonic)
        #expect(first.wall > WallClockInstant(millisecondsSinceEpoch: 1_600_000_000_000))
    }
}
