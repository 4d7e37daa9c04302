import CohortBase
import Averaging
import DHT
import Testing
import Wire
@testable import Collaboration

/// A joiner that downloaded a state and finds the run moved on replays the updates taken
/// since, when they are few enough, instead of downloading again (issue 12).
extension VolunteerSessionTests {
    /// A joiner that downloaded the state of step 40 (hash 4) that `donors` serve, announced it
    /// and trains.
    static func joinedAtStep40(donors: [PeerIdentity], replayableSteps: Int = 4,
                               configure: (inout VolunteerSession.Settings) -> Void = { _ in }) -> Harness {
        var harness = Harness(identity: lowest, coordinator: coordinator.peerID) { settings in
            settings.replayableSteps = replayableSteps
            configure(&settings)
        }
        for donor in donors {
            harness.progress(of: donor, step: 40, samples: 0)
            harness.announcement(of: donor, step: 40, hash: Harness.hash(4))
        }
        _ = harness.start()
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        _ = harness.feed(.stateLoaded(step: 40))
        _ = harness.feed(.stateAnnounced(step: 40, hash: Harness.hash(4)))
        // The read started with the publication of the new step, answered in place of a `train`.
        harness.advance(.milliseconds(100))
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.train])
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
        #expect(harness.feed(.stateAnnounced(step: 43, hash: Harness.hash(7))) == [harness.ownPublication(), .readProgressWhileTraining, .train])
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
        #expect(harness.feed(.stateAnnounced(step: 42, hash: Harness.hash(7))) == [harness.ownPublication(), .readProgressWhileTraining, .train])
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

extension VolunteerSessionTests {
    /// The declaration of `peer` for step 0 with `samples`, stored as the run would hold it.
    static func declare(_ peer: PeerIdentity, samples: UInt64, in harness: inout Harness) -> Declaration {
        let declaration = Declaration(step: 0, peer: peer.peerID, address: "127.0.0.1:7001",
                                      bandwidth: 100_000_000, clientMode: false, samples: samples)
        harness.store(Harness.keys.declarations(step: 0, state: Harness.hash(0)), declaration.encoded(), by: peer)
        return declaration
    }

    @Test func aPeerLeftOutOfAGroupWaitsForTheStateTheGroupReachesAndReplaysItAtOnce() {
        let (leader, member) = (Self.lowest, Self.others[1])
        var harness = Self.started(Self.others[0])
        _ = harness.trainUntilItLooksAtTheRun(samples: 16)
        _ = harness.feed(.connectivityChecked(.connected))
        for peer in [leader, member] { harness.progress(of: peer, step: 0, samples: 28) }
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.feed(.stateAnnouncementsRead([]))
        let plan = GroupPlan(step: 0, elementCount: Harness.elementCount,
                             members: [Self.declare(leader, samples: 28, in: &harness), Self.declare(member, samples: 28, in: &harness)])!
        harness.store(Harness.keys.plan(step: 0, state: Harness.hash(0)), plan.encoded(), by: leader)
        let leftOut = harness.answerMatchmaking()
        #expect(leftOut.first == .discardGradients)
        #expect(leftOut.last == .readStateAnnouncements, "no training on the state the group is leaving")
        // Its declaration is withdrawn, so that no later peer plans a group around it.
        let withdrawals = leftOut.compactMap { directive -> Declaration? in
            guard case .withdrawDeclaration(let declaration, MatchmakingKey(step: 0, stateHash: Harness.hash(0))) = directive else { return nil }
            return declaration
        }
        #expect(withdrawals.map(\.peer) == [Self.others[0].peerID] && withdrawals.allSatisfy { $0.samples == 0 }, "\(leftOut)")
        // The group is still averaging: the run's state is this peer's, so it looks again soon.
        guard case .sleep(let until) = harness.feed(.stateAnnouncementsRead(harness.announcements())).last else {
            Issue.record("expected a short wait")
            return
        }
        #expect(until == harness.monotonic + harness.session.settings.matchmakingPoll)
        harness.clock.advance(to: until)
        #expect(harness.feed(.woke) == [.readStateAnnouncements])
        for peer in [leader, member] { harness.announcement(of: peer, step: 1, hash: Harness.hash(1)) }
        guard case .replayUpdates(0, Harness.hash(0), 1, Harness.hash(1), _) = harness.feed(.stateAnnouncementsRead(harness.announcements())).last else {
            Issue.record("expected the replay of the group's update")
            return
        }
    }

    @Test func aPeerLeftOutOfAGroupThatNeverStepsTrainsOnAfterTheAveragingTimeout() {
        let (leader, member) = (Self.lowest, Self.others[1])
        var harness = Self.started(Self.others[0])
        _ = harness.trainUntilItLooksAtTheRun(samples: 16)
        _ = harness.feed(.connectivityChecked(.connected))
        for peer in [leader, member] { harness.progress(of: peer, step: 0, samples: 28) }
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.feed(.stateAnnouncementsRead([]))
        let plan = GroupPlan(step: 0, elementCount: Harness.elementCount,
                             members: [Self.declare(leader, samples: 28, in: &harness), Self.declare(member, samples: 28, in: &harness)])!
        harness.store(Harness.keys.plan(step: 0, state: Harness.hash(0)), plan.encoded(), by: leader)
        _ = harness.answerMatchmaking()
        var batch = harness.feed(.stateAnnouncementsRead([]))
        for _ in 0..<1_000 {
            guard case .sleep(let until) = batch.last else { break }
            harness.clock.advance(to: until)
            _ = harness.feed(.woke)
            batch = harness.feed(.stateAnnouncementsRead([]))
        }
        // A plan anyone could publish cost this peer its batch once; the group's members are
        // excluded from its next groups, so the same identities cannot again every step.
        guard case .note(.groupNeverStepped(0, let members)) = batch.first, batch.last == .train, batch.count == 2 else {
            Issue.record("expected the group's members to be excluded, then training, got \(batch)")
            return
        }
        #expect(Set(members) == [leader.peerID, member.peerID])
        for peer in [leader, member] {
            #expect(harness.session.excludedPeers[peer.peerID] == harness.session.settings.exclusionAttempts)
        }
        #expect(harness.session.step == 0)
    }
}
