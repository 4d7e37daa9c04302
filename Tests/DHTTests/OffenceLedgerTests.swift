import CohortBase
import DHT
import Testing
import Wire

/// Bans from offences, on a virtual clock (milliseconds).
@Suite struct OffenceLedgerTests {
    let peers = Fixtures.randomIDs(4, seed: 71)
    let offence = Offence(.badPart, "chunk 3 of part 1: 12 non-finite values")
    let minute: UInt64 = 60_000

    @Test func threeOffencesWithinTheWindowBanForTheFirstBanLength() {
        var ledger = OffenceLedger()
        #expect(ledger.onOffence(offence, by: peers[0], now: .at(0)) == .counted(offences: 1))
        #expect(ledger.onOffence(offence, by: peers[0], now: .at(4 * minute)) == .counted(offences: 2))
        #expect(ledger.onOffence(offence, by: peers[1], now: .at(5 * minute)) == .counted(offences: 1))
        let third = ledger.onOffence(offence, by: peers[0], now: .at(9 * minute))
        #expect(third == .banned(until: .at(19 * minute), reason:
            "3 offences within 10 min, the last bad part: chunk 3 of part 1: 12 non-finite values; ban 1 for 10 min"))
        #expect(ledger.isBanned(peers[0], now: .at(19 * minute - 1)))
        #expect(!ledger.isBanned(peers[1], now: .at(9 * minute)))
        #expect(ledger.bannedPeers(now: .at(10 * minute)) == [peers[0]])
        #expect(ledger.nextBanExpiry(now: .at(10 * minute)) == .at(19 * minute))
        #expect(!ledger.isBanned(peers[0], now: .at(19 * minute)))
        #expect(ledger.bannedPeers(now: .at(19 * minute)).isEmpty)
    }

    @Test func aPoisonedAverageBansAtOnceAfterLesserOffences() {
        var ledger = OffenceLedger()
        let poisoned = Offence(.poisonedAverage, "sent an average of part 2 that is not finite")
        #expect(ledger.onOffence(poisoned, by: peers[0], now: .at(0)) == .banned(
            until: .at(10 * minute), reason: "1 offence within 10 min, the last \(poisoned); ban 1 for 10 min"))
        #expect(ledger.onOffence(offence, by: peers[1], now: .at(0)) == .counted(offences: 1))
        #expect(ledger.onOffence(poisoned, by: peers[1], now: .at(minute)) == .banned(
            until: .at(11 * minute), reason: "2 offences within 10 min, the last \(poisoned); ban 1 for 10 min"))
        #expect(ledger.bannedPeers(now: .at(minute)) == [peers[0], peers[1]])
    }

    @Test func offencesSpreadBeyondTheWindowNeverBan() {
        var ledger = OffenceLedger()
        for round in 0..<10 {
            let outcome = ledger.onOffence(offence, by: peers[0], now: .at(UInt64(round) * 6 * minute))
            #expect(outcome == .counted(offences: round == 0 ? 1 : 2))
        }
        #expect(ledger.bannedPeers(now: .at(60 * minute)).isEmpty)
    }

    @Test func offencesWhileBannedDoNotExtendTheBan() {
        var ledger = OffenceLedger()
        for _ in 0..<3 { _ = ledger.onOffence(offence, by: peers[0], now: .at(0)) }
        #expect(ledger.onOffence(offence, by: peers[0], now: .at(minute)) == .alreadyBanned(until: .at(10 * minute)))
        #expect(!ledger.isBanned(peers[0], now: .at(10 * minute)))
    }

    @Test func eachRepeatedBanDoublesUpToTheLongest() {
        var settings = OffenceLedger.Settings()
        settings.offencesToBan = 1
        settings.firstBan = .milliseconds(10 * minute)
        settings.longestBan = .milliseconds(50 * minute)
        var ledger = OffenceLedger(settings: settings)
        var now = MonotonicInstant.zero
        var lengths: [Duration] = []
        for _ in 0..<5 {
            guard case .banned(let until, _) = ledger.onOffence(offence, by: peers[0], now: now) else {
                Issue.record("offence at \(now) did not ban")
                return
            }
            lengths.append(until - now)
            now = until
        }
        #expect(lengths == [10, 20, 40, 50, 50].map { .milliseconds($0 * minute) })
    }

    @Test func aPeerQuietForTheMemoryIsForgottenWithItsBans() {
        var settings = OffenceLedger.Settings()
        settings.offencesToBan = 1
        var ledger = OffenceLedger(settings: settings)
        _ = ledger.onOffence(offence, by: peers[0], now: .at(0))
        ledger.forgetQuiet(now: .at(10 * minute))
        #expect(ledger.trackedCount == 1, "banned until 10 min and seen at 0: remembered for a day")
        ledger.forgetQuiet(now: .zero + settings.memory)
        #expect(ledger.trackedCount == 0)
        #expect(ledger.onOffence(offence, by: peers[0], now: .zero + settings.memory) == .banned(
            until: .zero + settings.memory + .milliseconds(10 * minute), reason: "1 offence within 10 min, the last \(offence); ban 1 for 10 min"))
    }

    @Test func theLedgerStaysBoundedAndForgetsUnbannedPeersFirst() {
        var settings = OffenceLedger.Settings()
        settings.maxTrackedPeers = 2
        settings.offencesToBan = 2
        var ledger = OffenceLedger(settings: settings)
        _ = ledger.onOffence(offence, by: peers[0], now: .at(0))
        _ = ledger.onOffence(offence, by: peers[0], now: .at(1))
        _ = ledger.onOffence(offence, by: peers[1], now: .at(2))
        #expect(ledger.onOffence(offence, by: peers[2], now: .at(3)) == .counted(offences: 1), "peer 1, unbanned, makes room")
        #expect(ledger.trackedCount == 2)
        #expect(ledger.isBanned(peers[0], now: .at(3)))
        _ = ledger.onOffence(offence, by: peers[2], now: .at(4))
        #expect(ledger.onOffence(offence, by: peers[3], now: .at(5)) == .counted(offences: 0), "both tracked peers are banned")
        #expect(ledger.trackedCount == 2)
    }
}
