import DHT
import Testing
import Wire
@testable import Collaboration

/// A joiner that downloaded a state and finds the run moved on replays the updates taken
/// since, when they are few enough, instead of downloading again (issue 12).
extension VolunteerSessionTests {
    /// A joiner that downloaded the state of step 40 (hash 4) that `donors` serve, announced it
    /// and trains.
    static func joinedAtStep40(donors: [PeerIdentity], replayableSteps: Int = 4) -> Harness {
        var harness = Harness(identity: lowest, coordinator: coordinator.peerID) { $0.replayableSteps = replayableSteps }
        for donor in donors {
            harness.progress(of: donor, step: 40, samples: 0)
            harness.announcement(of: donor, step: 40, hash: Harness.hash(4))
        }
        _ = harness.start()
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        _ = harness.feed(.stateLoaded(step: 40))
        _ = harness.feed(.stateAnnounced(step: 40, hash: Harness.hash(4)))
        return harness
    }

    /// The donors move on to `step` (hash 7) while the joiner trains; its next look at the run
    /// finds it behind and elects their state: the directive that catches up.
    static func catchUp(_ harness: inout Harness, donors: [PeerIdentity], runStep step: Int) -> [VolunteerSession.Directive] {
        harness.advance(.seconds(1))
        for donor in donors {
            harness.progress(of: donor, step: step, samples: 0)
            harness.announcement(of: donor, step: step, hash: Harness.hash(7))
        }
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        #expect(harness.feed(.progressRead(harness.progressRecords()))
            == [.note(.behindTheRun(ownStep: 40, runStep: step)), .readStateAnnouncements])
        return harness.feed(.stateAnnouncementsRead(harness.announcements()))
    }

    @Test func aJoinerAFewStepsBehindReplaysTheUpdatesSinceItsStateInsteadOfDownloading() {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.joinedAtStep40(donors: donors)
        let catchUp = Self.catchUp(&harness, donors: donors, runStep: 43)
        guard case .replayUpdates(40, Harness.hash(4), 43, Harness.hash(7), let offered) = catchUp.last else {
            Issue.record("expected a replay from step 40 to 43, got \(catchUp)")
            return
        }
        #expect(Set(offered.map(\.peer)) == Set(donors.map(\.peerID)))
        #expect(harness.session.accumulatedSamples == 0, "the replay takes over the gradient arena")
        #expect(harness.feed(.stateLoaded(step: 43)) == [.note(.stateLoaded(step: 43)), .announceState])
        #expect(harness.feed(.stateAnnounced(step: 43, hash: Harness.hash(7))) == [.train])
        #expect(harness.session.step == 43 && harness.session.announcedHash == Harness.hash(7))
    }

    @Test(arguments: [(runStep: 45, replayableSteps: 4), (runStep: 41, replayableSteps: 0)])
    func aJoinerFurtherBehindThanDonorsKeepDownloads(runStep: Int, replayableSteps: Int) {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.joinedAtStep40(donors: donors, replayableSteps: replayableSteps)
        let catchUp = Self.catchUp(&harness, donors: donors, runStep: runStep)
        guard case .downloadState(runStep, Harness.hash(7), _) = catchUp.last else {
            Issue.record("expected a download of step \(runStep), got \(catchUp)")
            return
        }
    }

    @Test func aFailedReplayFallsBackToDownloadingTheElectedState() {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.joinedAtStep40(donors: donors)
        guard case .replayUpdates(_, _, _, _, let offered) = Self.catchUp(&harness, donors: donors, runStep: 42).last else {
            Issue.record("expected a replay")
            return
        }
        let fallback = harness.feed(.stateReplayFailed(reason: "no donor sent the updates"))
        #expect(fallback == [.note(.stateReplayFailed(fromStep: 40, toStep: 42, reason: "no donor sent the updates")),
                             .downloadState(step: 42, hash: Harness.hash(7), donors: offered)])
        #expect(harness.feed(.stateLoaded(step: 42)) == [.note(.stateLoaded(step: 42)), .announceState])
        #expect(harness.feed(.stateAnnounced(step: 42, hash: Harness.hash(7))) == [.train])
        #expect(harness.session.step == 42)
    }

    @Test func aPeerThatHasAnnouncedNoStateDownloadsEvenWhenTheRunIsOnlyAStepAhead() {
        var harness = Harness(identity: Self.lowest, coordinator: Self.coordinator.peerID)
        harness.progress(of: Self.others[0], step: 1, samples: 0)
        harness.announcement(of: Self.others[0], step: 1, hash: Harness.hash(1))
        _ = harness.start()
        _ = harness.feed(.progressRead(harness.progressRecords()))
        let catchUp = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        guard case .downloadState(1, Harness.hash(1), _) = catchUp.last else {
            Issue.record("expected a download, got \(catchUp)")
            return
        }
    }
}
