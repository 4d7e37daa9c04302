import CohortBase

@testable import StateSync
import Averaging
@testable import Peer
import Testing

@Suite struct DownloadAlarmTests {
    static func at(_ seconds: Int64) -> MonotonicInstant { .zero + .seconds(seconds) }

    @Test func aLaterWakeKeepsTheArmedSleeperAndReArmsWhenItFires() {
        var alarm = DownloadAlarm()
        let first = alarm.onWake(at: Self.at(10))
        #expect(first?.time == Self.at(10))
        #expect(alarm.onWake(at: Self.at(12)) == nil)
        guard let first else { return }
        guard case .rearm(let second) = alarm.onFired(generation: first.generation) else {
            Issue.record("the sleeper for 10 s did not re-arm for 12 s")
            return
        }
        #expect(second.time == Self.at(12))
        #expect(alarm.onFired(generation: second.generation) == .deadline)
        #expect(alarm.onFired(generation: second.generation) == .ignored, "a wake is consumed once")
    }

    @Test func anEarlierWakeArmsANewSleeperAndTheOldOneIsIgnored() {
        var alarm = DownloadAlarm()
        let late = alarm.onWake(at: Self.at(10))
        let early = alarm.onWake(at: Self.at(4))
        #expect(early?.time == Self.at(4))
        guard let late, let early else { return }
        #expect(alarm.onFired(generation: early.generation) == .deadline)
        #expect(alarm.onFired(generation: late.generation) == .ignored)
    }

    @Test func theSameWakeAgainStartsNothing() {
        var alarm = DownloadAlarm()
        let sleeper = alarm.onWake(at: Self.at(10))
        #expect(alarm.onWake(at: Self.at(10)) == nil)
        #expect(alarm.onFired(generation: sleeper?.generation ?? 0) == .deadline)
    }
}
