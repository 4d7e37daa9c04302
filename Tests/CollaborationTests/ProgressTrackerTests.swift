import CohortBase
import Testing
@testable import Collaboration

@Suite struct ProgressTrackerTests {
    func record(step: Int, samples: Int, rate: Double = 10, at time: UInt64) -> PeerProgress {
        PeerProgress(step: step, samplesAccumulated: samples, samplesPerSecond: rate, loss: 2, timestampMilliseconds: time)
    }

    @Test func peersAtTheHighestStepCountTowardsTheBatch() {
        let tracker = ProgressTracker(targetBatchSize: 100)
        let progress = tracker.globalProgress(
            of: [record(step: 3, samples: 40, at: 1000), record(step: 3, samples: 30, at: 1000), record(step: 2, samples: 90, at: 1000)],
            now: WallClockInstant(millisecondsSinceEpoch: 1000))
        #expect(progress.step == 3)
        #expect(progress.samplesAccumulated == 70)
        #expect(progress.peersAtStep == 2)
        #expect(progress.samplesPerSecond == 20)
        #expect(progress.secondsToTarget == 1.5)
        #expect(!progress.isTargetReached)
    }

    @Test func peersOneStepBehindThatWroteRecentlyAreExpectedInTheGroup() {
        // A member still finishing the last round and a peer left out of it that is loading the
        // result both declare within moments; one that stopped writing does not.
        let tracker = ProgressTracker(targetBatchSize: 100)
        let now = WallClockInstant(millisecondsSinceEpoch: 10_000)
        let recent = now - RunTimings.catchingUpWithin / 2, old = now - RunTimings.catchingUpWithin - .milliseconds(1)
        let time = now.millisecondsSinceEpoch
        let progress = tracker.globalProgress(
            of: [record(step: 7, samples: 40, at: time), record(step: 7, samples: 30, at: time), record(step: 7, samples: 0, at: time),
                 record(step: 6, samples: 0, at: recent.millisecondsSinceEpoch),
                 record(step: 6, samples: 0, at: old.millisecondsSinceEpoch), record(step: 5, samples: 0, at: time)],
            now: now)
        #expect(progress.step == 7)
        #expect(progress.peersAtStep == 3)
        #expect(progress.peersCatchingUp == 1)
        #expect(progress.expectedGroupSize == 4)
        #expect(progress.samplesAccumulated == 70, "a peer behind brings no samples to this step's count")
    }

    @Test func countsAreExtrapolatedUpToALimit() {
        var tracker = ProgressTracker(targetBatchSize: 100)
        tracker.extrapolationLimit = .seconds(2)
        let progress = tracker.globalProgress(of: [record(step: 1, samples: 50, rate: 10, at: 1000)], now: WallClockInstant(millisecondsSinceEpoch: 4000))
        #expect(progress.samplesAccumulated == 70)
    }

    @Test func stalePeersAreIgnored() {
        let tracker = ProgressTracker(targetBatchSize: 10)
        let progress = tracker.globalProgress(
            of: [record(step: 9, samples: 50, at: 0), record(step: 4, samples: 5, rate: 0, at: 40_000)], now: WallClockInstant(millisecondsSinceEpoch: 40_000))
        #expect(progress.step == 4)
        #expect(progress.samplesAccumulated == 5)
        #expect(progress.secondsToTarget == .infinity)
    }

    @Test func aLonePeerClaimingAFarStepDoesNotMoveTheRun() {
        let tracker = ProgressTracker(targetBatchSize: 100)
        let progress = tracker.globalProgress(
            of: [record(step: Int(Int32.max), samples: 1, at: 1000), record(step: 40, samples: 30, at: 1000),
                 record(step: 40, samples: 30, at: 1000)],
            now: WallClockInstant(millisecondsSinceEpoch: 1000))
        #expect(progress.step == 40)
        #expect(progress.peersAtStep == 2)
    }

    @Test func ofTwoPeersTheOneAheadSetsTheStep() {
        // After a round only one of two peers was in, the other must catch up.
        #expect(ProgressTracker.runStep(reachedBy: [41, 40]) == 41)
        #expect(ProgressTracker.runStep(reachedBy: [41, 41, 40]) == 41)
        #expect(ProgressTracker.runStep(reachedBy: [41, 40, 40]) == 40)
        #expect(ProgressTracker.runStep(reachedBy: []) == 0)
    }

    @Test func recordsFromTheFutureAreIgnored() {
        let tracker = ProgressTracker(targetBatchSize: 100)
        let progress = tracker.globalProgress(
            of: [record(step: 9, samples: 99, at: 1_000_000), record(step: 9, samples: 99, at: 1_000_000),
                 record(step: 4, samples: 5, at: 1000)],
            now: WallClockInstant(millisecondsSinceEpoch: 1000))
        #expect(progress.step == 4)
        #expect(progress.samplesAccumulated == 5)
    }

    /// A peer may write any u64 as its time: the last one is far future, not a trap.
    @Test func aRecordWrittenAtTheEndOfU64IsFromTheFuture() {
        let tracker = ProgressTracker(targetBatchSize: 100)
        let now = WallClockInstant(millisecondsSinceEpoch: 1_800_000_000_000)
        #expect(!tracker.isLive(record(step: 9, samples: 99, at: .max), now: now))
        #expect(tracker.isLive(record(step: 9, samples: 99, at: (now + RunTimings.maxClockSkew).millisecondsSinceEpoch), now: now))
        #expect(tracker.globalProgress(of: [record(step: 9, samples: 99, at: .max)], now: now).step == 0)
    }

    @Test func aHugeSampleClaimCountsForTwiceTheMedian() {
        let tracker = ProgressTracker(targetBatchSize: 1_000)
        let progress = tracker.globalProgress(
            of: [record(step: 5, samples: Int(Int32.max), rate: 1e8, at: 1000), record(step: 5, samples: 10, at: 1000),
                 record(step: 5, samples: 10, at: 1000)],
            now: WallClockInstant(millisecondsSinceEpoch: 1000))
        #expect(progress.samplesAccumulated == 40)
        #expect(!progress.isTargetReached)
        #expect(progress.samplesPerSecond == 40)
    }

    @Test func recordsRoundTripAndGarbageIsRefused() throws {
        let original = PeerProgress(step: 41, samplesAccumulated: 128, samplesPerSecond: 33.5, loss: 1.75,
                                    timestampMilliseconds: 1_700_000_000_000, clientMode: true)
        #expect(try PeerProgress(decoding: original.encoded) == original)
        #expect(throws: PeerProgress.DecodingError.self) { try PeerProgress(decoding: Array(original.encoded.dropLast())) }
        var badFlag = original.encoded
        badFlag[40] = 7
        #expect(throws: PeerProgress.DecodingError.self) { try PeerProgress(decoding: badFlag) }
        var negativeRate = original
        negativeRate.samplesPerSecond = -1
        #expect(throws: PeerProgress.DecodingError.self) { try PeerProgress(decoding: negativeRate.encoded) }
    }

    @Test func activityTravelsWithTheRecordAndRecordsWithoutItStillDecode() throws {
        var record = PeerProgress(step: 41, samplesAccumulated: 128, samplesPerSecond: 33.5, loss: 1.75,
                                  timestampMilliseconds: 1_700_000_000_000)
        let older = record.encoded
        var activity = PeerActivity()
        (activity.trainingSeconds, activity.wallSeconds, activity.samplesTrained) = (90, 100, 4_000)
        (activity.bytesSent, activity.bytesReceived, activity.stepsInLastRound) = (1_000_000, 1_048_000, 16)
        record.activity = activity
        let decoded = try PeerProgress(decoding: record.encoded)
        #expect(decoded == record && decoded.activity?.utilisation == 0.9)
        #expect(decoded.activity?.bytesPerToken(contextLength: 128) == 2_048_000.0 / (4_000 * 128))
        #expect(try PeerProgress(decoding: older).activity == nil)
        #expect(throws: PeerProgress.DecodingError.self) { try PeerProgress(decoding: older + [0]) }
    }

    @Test func anActivityOutOfRangeIsRefusedAndAClaimOfMoreTrainingThanTimeShowsAsFullyBusy() throws {
        var record = PeerProgress(step: 1, samplesAccumulated: 8, samplesPerSecond: 1, loss: 2, timestampMilliseconds: 5)
        for breakIt in [{ (a: inout PeerActivity) in a.trainingSeconds = .nan }, { $0.wallSeconds = -1 },
                        { $0.wallSeconds = .infinity }, { $0.bytesSent = 1 << 60 }, { $0.stepsInLastRound = .max }] {
            var activity = PeerActivity()
            breakIt(&activity)
            record.activity = activity
            #expect(throws: PeerProgress.DecodingError.self) { try PeerProgress(decoding: record.encoded) }
        }
        var boastful = PeerActivity()
        (boastful.trainingSeconds, boastful.wallSeconds) = (500, 10)
        #expect(boastful.utilisation == 1)
        #expect(PeerActivity().utilisation == 0 && PeerActivity().bytesPerToken(contextLength: 128) == nil)
    }
}

@Suite struct RunRecordTests {
    @Test func stateAnnouncementsAndRoundReportsRoundTrip() throws {
        let announcement = StateAnnouncement(step: 12, stateHash: [UInt8](repeating: 7, count: 32), stateBytes: 1 << 20,
                                             host: "127.0.0.1", port: 7001, timestampMilliseconds: 99)
        #expect(try StateAnnouncement(decoding: announcement.encoded) == announcement)
        #expect(throws: (any Error).self) { try StateAnnouncement(decoding: Array(announcement.encoded.dropLast())) }
        let report = RoundReport(step: 12, members: 3, samples: 96, durationSeconds: 0.25, loss: 2.5,
                                 bytesSent: 10, bytesReceived: 20, failedParts: 1, note: "part 2 not averaged")
        #expect(try RoundReport(decoding: report.encoded) == report)
        var corrupt = report.encoded
        corrupt[24 + 7] = 0xFF
        #expect(throws: (any Error).self) { try RoundReport(decoding: corrupt) }
    }

    @Test func everyStepAndStateHasItsOwnKeys() {
        let keys = RunKeys(runName: "shakespeare")
        let state: [UInt8] = [1, 2], drifted: [UInt8] = [1, 3]
        #expect(keys.declarations(step: 1, state: state) != keys.declarations(step: 2, state: state))
        #expect(keys.declarations(step: 1, state: state) != keys.declarations(step: 1, state: drifted))
        #expect(keys.plan(step: 1, state: state) != keys.declarations(step: 1, state: state))
        #expect(RunKeys(runName: "other").progress != keys.progress)
    }
}
