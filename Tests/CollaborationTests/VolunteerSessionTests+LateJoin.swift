import CohortBase
import Averaging
import DHT
import Testing
import Wire
@testable import Collaboration

/// A peer the run left one step behind, training on while rounds average, joins the next round
/// with what it trained while it replays the update it missed in the background (issue 13).
extension VolunteerSessionTests {
    static func lateJoiner(donors: [PeerIdentity]) -> Harness {
        joinedAtStep40(donors: donors) { settings in
            settings.trainsWhileAveraging = true
            settings.joinsLate = true
        }
    }

    /// The joiner of step 40 finds the donors at step 41 with `samples` each and joins late:
    /// the directives.
    static func joinLate(_ harness: inout Harness, donors: [PeerIdentity], samples: Int = 0) -> [VolunteerSession.Directive] {
        harness.advance(.seconds(1))
        for donor in donors {
            harness.progress(of: donor, step: 41, samples: samples)
            harness.announcement(of: donor, step: 41, hash: Harness.hash(7))
        }
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        _ = harness.feed(.progressRead(harness.progressRecords()))
        return harness.feed(.stateAnnouncementsRead(harness.announcements()))
    }

    @Test func aPeerOneStepBehindJoinsTheNextRoundWithWhatItTrainedWhileItReplaysTheMissedUpdate() {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.lateJoiner(donors: donors)
        let directives = Self.joinLate(&harness, donors: donors)
        let trained = harness.session.accumulatedSamples
        #expect(trained > 0, "the samples trained on the state of step 40 are kept")
        #expect(directives.count == 4)
        #expect(directives.first == .note(.joiningLate(fromStep: 40, toStep: 41)))
        guard case .replayUpdatesInBackground(40, Harness.hash(4), 41, Harness.hash(7), let offered) = directives[1] else {
            Issue.record("expected the background replay of step 40's update, got \(directives)")
            return
        }
        #expect(Set(offered.map(\.peer)) == Set(donors.map(\.peerID)))
        #expect(directives[2] == harness.ownPublication(), "counted at once in the run's batch of step 41")
        #expect(directives.last == .train)
        #expect(harness.session.step == 41 && harness.session.announcedHash == Harness.hash(7))

        #expect(harness.feed(.backgroundReplayFinished(.landed(step: 41))) == [.announceState])
        #expect(harness.feed(.stateAnnounced(step: 41, hash: Harness.hash(7))) == [.train])
        #expect(harness.session.step == 41 && harness.session.accumulatedSamples == trained)
    }

    @Test func aLateJoinerWhoseRoundsBatchIsAlreadyTrainedDeclaresAtOnce() {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.lateJoiner(donors: donors)
        let directives = Self.joinLate(&harness, donors: donors, samples: 20)
        #expect(directives.first == .note(.joiningLate(fromStep: 40, toStep: 41)))
        #expect(directives.contains(.averageAccumulatedGradients))
        #expect(directives.contains { if case .publishDeclaration(_, MatchmakingKey(step: 41, stateHash: Harness.hash(7))) = $0 { true } else { false } },
                "declared for step 41 under the elected hash: \(directives)")
        #expect(!directives.contains(.train))
    }

    @Test func withoutLateJoinsThePeerReplaysFirstAndLosesWhatItTrained() {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.joinedAtStep40(donors: donors) { $0.trainsWhileAveraging = true }
        guard case .replayUpdates(40, _, 41, _, _) = Self.joinLate(&harness, donors: donors).last else {
            Issue.record("expected a replay that blocks")
            return
        }
        #expect(harness.session.accumulatedSamples == 0)
    }

    @Test func aFailedBackgroundReplayPutsThePeerBackAtItsStateAndCatchesUp() {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.lateJoiner(donors: donors)
        _ = Self.joinLate(&harness, donors: donors)
        let failed = harness.feed(.backgroundReplayFinished(.failed(reason: "no donor sent the update")))
        #expect(failed == [.note(.stateReplayFailed(fromStep: 40, toStep: 41, reason: "no donor sent the update")), .readProgress])
        #expect(harness.session.step == 40 && harness.session.announcedHash == Harness.hash(4))
    }

    /// Found by `cohort simulate` with churn: the catch-up after a failed replay read the
    /// progress again while a background read was out, and that read's answer later came in
    /// place of a micro-batch of the round the catch-up led to, which no phase expects.
    @Test func aCatchUpWaitsForTheBackgroundProgressReadStillOutInsteadOfStartingAnother() {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.joinedAtStep40(donors: donors) { settings in
            settings.trainsWhileAveraging = true
            settings.joinsLate = true
            // A batch far from complete: the peer reads the run in the background.
            settings.targetBatchSize = 1024
        }
        _ = Self.joinLate(&harness, donors: donors)
        var batch = harness.trainUntilItLooksAtTheRun()
        if batch.last == .rejoinIfIsolated { batch = harness.feed(.connectivityChecked(.connected)) }
        #expect(batch.contains(.readProgressWhileTraining) && batch.last == .train, "got \(batch)")
        let failed = harness.feed(.backgroundReplayFinished(.failed(reason: "no donor sent the update")))
        #expect(failed == [.note(.stateReplayFailed(fromStep: 40, toStep: 41, reason: "no donor sent the update")), .awaitProgressRead])
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.readStateAnnouncements])
    }

    /// The late joiner's round at step 41 with `donors[0]`, started in the background.
    static func lateJoinersRound(_ harness: inout Harness, with other: PeerIdentity) -> GroupPlan? {
        _ = harness.trainUntilItLooksAtTheRun(samples: 16)
        _ = harness.feed(.connectivityChecked(.connected))
        harness.progress(of: other, step: 41, samples: 28)
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        let declaration = Declaration(step: 41, peer: other.peerID, address: "127.0.0.1:7001",
                                      bandwidth: 100_000_000, clientMode: false, samples: 28)
        harness.store(Harness.keys.declarations(step: 41, state: Harness.hash(7)), declaration.encoded(), by: other)
        for directive in harness.answerMatchmaking() {
            if case .allReduceInBackground(let plan) = directive { return plan }
        }
        return nil
    }

    @Test func aRoundThatEndsBeforeTheReplayLandsIsAppliedAfterIt() throws {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.lateJoiner(donors: donors)
        _ = Self.joinLate(&harness, donors: donors)
        let plan = try #require(Self.lateJoinersRound(&harness, with: donors[0]))
        #expect(plan.step == 41)
        #expect(harness.feed(.roundFinished(Self.averagedByAll(plan))) == [.awaitBackgroundReplay])
        #expect(harness.feed(.backgroundReplayFinished(.landed(step: 41))) == [.applyUpdate(skipping: [], samples: 44), .announceState])
        _ = harness.feed(.stateAnnounced(step: 42, hash: Harness.hash(8)))
        #expect(harness.session.step == 42)
    }

    @Test func aReplayThatLandsDuringTheRoundLetsTheRoundApplyAtOnce() throws {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.lateJoiner(donors: donors)
        _ = Self.joinLate(&harness, donors: donors)
        let plan = try #require(Self.lateJoinersRound(&harness, with: donors[0]))
        #expect(harness.feed(.backgroundReplayFinished(.landed(step: 41))) == [.train], "announced with the round's state")
        #expect(harness.feed(.roundFinished(Self.averagedByAll(plan))) == [.applyUpdate(skipping: [], samples: 44), .announceState])
    }

    @Test func whenTheReplayFailsTheRoundsResultIsDroppedAndTheRunsStateLoaded() throws {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.lateJoiner(donors: donors)
        _ = Self.joinLate(&harness, donors: donors)
        let plan = try #require(Self.lateJoinersRound(&harness, with: donors[0]))
        #expect(harness.feed(.backgroundReplayFinished(.failed(reason: "hash"))) == [.train])
        let dropped = harness.feed(.roundFinished(Self.averagedByAll(plan)))
        #expect(dropped == [.note(.stateReplayFailed(fromStep: 40, toStep: 41, reason: "hash")), .discardGradients, .readProgress])
        #expect(harness.session.step == 40 && harness.session.accumulatedSamples == 0)
    }

    @Test func aLateJoinerLeftBehindAgainCancelsItsReplayAndCatchesUpFromItsOwnState() {
        let donors = Array(Self.others.prefix(2))
        var harness = Self.lateJoiner(donors: donors)
        _ = Self.joinLate(&harness, donors: donors)
        harness.advance(.seconds(1))
        for donor in donors { harness.progress(of: donor, step: 43, samples: 0) }
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        #expect(harness.feed(.progressRead(harness.progressRecords()))
            == [.note(.behindTheRun(ownStep: 41, runStep: 43)), .cancelBackgroundReplay, .readStateAnnouncements])
        #expect(harness.session.step == 40 && harness.session.announcedHash == Harness.hash(4))
    }
}
