import CohortBase

@testable import Averaging
import DHT
import Testing
import Wire
@testable import Collaboration

/// The volunteer's loop as a pure state machine: scripted records and outcomes, a virtual clock.
@Suite struct VolunteerSessionTests {
    typealias Harness = VolunteerSessionHarness
    static let peers = Harness.identities(5)
    static let coordinator = Harness.identities(1, seed: 99)[0]
    /// The peer with the lowest id, so that it leads the groups it is in.
    static let lowest = peers.min { $0.peerID < $1.peerID }!
    static let others = peers.filter { $0.peerID != lowest.peerID }

    /// A session that started a fresh run: it announced the initial state and trains.
    static func started(_ identity: PeerIdentity = lowest, initialHash: [UInt8] = Harness.hash(0), targetBatch: Int = 32,
                        configure: (inout VolunteerSession.Settings) -> Void = { _ in }) -> Harness {
        var harness = Harness(identity: identity, coordinator: coordinator.peerID, targetBatch: targetBatch, configure: configure)
        _ = harness.start()
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        _ = harness.feed(.checkpointRead([]))
        _ = harness.feed(.stateAnnounced(step: 0, hash: initialHash))
        return harness
    }

    @Test func aPeerStartingAFreshRunAnnouncesTheInitialStateAndTrains() {
        var harness = Harness(identity: Self.lowest, coordinator: Self.coordinator.peerID)
        #expect(harness.start() == [.readProgress])
        #expect(harness.feed(.progressRead([])) == [.readStateAnnouncements])
        #expect(harness.feed(.stateAnnouncementsRead([])) == [.readCheckpoint])
        #expect(harness.feed(.checkpointRead([])) == [.announceState])
        #expect(harness.feed(.stateAnnounced(step: 0, hash: Harness.hash(1))) == [.train])
        #expect(harness.session.announcedHash == Harness.hash(1))
    }

    @Test func aJoinerDownloadsTheStateTheLivePeersElectNotALoneFarAheadOne() {
        var harness = Harness(identity: Self.lowest, coordinator: Self.coordinator.peerID)
        let (a, b, liar) = (Self.others[0], Self.others[1], Self.others[2])
        for peer in [a, b, liar] { harness.progress(of: peer, step: 40, samples: 0) }
        harness.announcement(of: a, step: 40, hash: Harness.hash(4), port: 7101)
        harness.announcement(of: b, step: 40, hash: Harness.hash(4), port: 7102)
        harness.announcement(of: liar, step: 41, hash: Harness.hash(9), port: 7103)
        _ = harness.start()
        _ = harness.feed(.progressRead(harness.progressRecords()))
        let download = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        guard case .downloadState(let step, let hash, let donors) = download.last else {
            Issue.record("expected a download, got \(download)")
            return
        }
        #expect(step == 40 && hash == Harness.hash(4))
        #expect(Set(donors.map(\.peer)) == [a.peerID, b.peerID])
        #expect(harness.feed(.stateLoaded(step: 40)) == [.note(.stateLoaded(step: 40)), .announceState])
        // The run hears of the new step at once: the next group counts this peer.
        let going = harness.feed(.stateAnnounced(step: 40, hash: Harness.hash(4)))
        #expect(going == [harness.ownPublication(), .readProgressWhileTraining, .train])
        #expect(harness.session.step == 40)
    }

    @Test func whenNoPeerCanServeTheStateTheCoordinatorsCheckpointIsUsedAndNobodyElses() {
        var harness = Harness(identity: Self.lowest, coordinator: Self.coordinator.peerID)
        harness.progress(of: Self.others[0], step: 40, samples: 0)
        harness.announcement(of: Self.others[0], step: 40, hash: Harness.hash(4))
        let checkpoint = { (step: Int, hash: UInt8) in
            StateAnnouncement(step: step, stateHash: Harness.hash(hash), stateBytes: Harness.stateBytes, host: "127.0.0.1", port: 7900,
                              timestampMilliseconds: harness.now.wall.millisecondsSinceEpoch).encoded
        }
        harness.store(Harness.keys.checkpoint, checkpoint(30, 3), by: Self.coordinator)
        harness.store(Harness.keys.checkpoint, checkpoint(90, 8), by: Self.others[1])
        _ = harness.start()
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        let fallback = harness.feed(.stateDownloadFailed(reason: "every donor left"))
        #expect(fallback.last == .readCheckpoint)
        let download = harness.feed(.checkpointRead(harness.announcements(under: Harness.keys.checkpoint)))
        let donor = VolunteerSession.StateDonor(peer: Self.coordinator.peerID, endpoint: Endpoint(host: "127.0.0.1", port: 7900))
        #expect(download == [.note(.goingOnFromCheckpoint(step: 30)), .downloadState(step: 30, hash: Harness.hash(3), donors: [donor])])
    }

    @Test func twoPeersGatherAverageStepAndReportTheRound() {
        var harness = Self.started()
        let other = Self.others[0]
        #expect(harness.trainUntilItLooksAtTheRun(samples: 16) == [.checkStillAdmitted, .rejoinIfIsolated])
        let published = harness.feed(.connectivityChecked(.connected))
        #expect(published.contains(.readProgressWhileTraining) && published.last == .train)
        harness.progress(of: other, step: 0, samples: 28)
        harness.announcement(of: other, step: 0, hash: Harness.hash(0))
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.readStateAnnouncements])
        let gathering = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        #expect(gathering.first == .averageAccumulatedGradients)
        guard case .publishDeclaration(let own, MatchmakingKey(step: 0, stateHash: Harness.hash(0))) = gathering[1] else {
            Issue.record("expected the declaration, got \(gathering)")
            return
        }
        #expect(own.samples == 16)
        let declaration = Declaration(step: 0, peer: other.peerID, address: "127.0.0.1:7001",
                                      bandwidth: 100_000_000, clientMode: false, samples: 28)
        harness.store(Harness.keys.declarations(step: 0, state: Harness.hash(0)), declaration.encoded(), by: other)
        let formed = harness.answerMatchmaking()
        guard case .allReduce(let plan) = formed.last else {
            Issue.record("expected the round to start, got \(formed)")
            return
        }
        #expect(plan.members.count == 2)
        #expect(formed.contains { if case .publishPlan = $0 { true } else { false } })

        harness.advance(.seconds(1))
        let result = Self.averagedByAll(plan)
        #expect(harness.feed(.roundFinished(result)) == [.applyUpdate(skipping: [], samples: 44), .announceState])
        let reported = harness.feed(.stateAnnounced(step: 1, hash: Harness.hash(1)))
        guard case .publishRoundReport(let report) = reported.first else {
            Issue.record("expected the round report, got \(reported)")
            return
        }
        #expect(report.step == 0 && report.members == 2 && report.samples == 44 && report.failedParts == 0)
        #expect(reported.last == .train)
        #expect(harness.session.step == 1 && harness.session.accumulatedSamples == 0)
    }

    /// A session that leads a round of step 0 with `other` (28 samples at `otherRate` a
    /// second), and the round's plan; nil when the round did not start.
    /// A session at step 0 with 16 samples, whose batch the progress of `other` (28 samples)
    /// completes: the directives with which it begins to gather a group.
    static func gathering(with other: PeerIdentity, otherRate: Double = 10,
                          configure: (inout VolunteerSession.Settings) -> Void = { _ in }) -> (Harness, [VolunteerSession.Directive]) {
        var harness = Self.started(configure: configure)
        _ = harness.trainUntilItLooksAtTheRun(samples: 16)
        _ = harness.feed(.connectivityChecked(.connected))
        harness.progress(of: other, step: 0, samples: 28, rate: otherRate)
        harness.announcement(of: other, step: 0, hash: Harness.hash(0))
        _ = harness.feed(.progressRead(harness.progressRecords()))
        let gathering = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        return (harness, gathering)
    }

    static func roundStarted(with other: PeerIdentity, otherRate: Double = 10,
                             configure: (inout VolunteerSession.Settings) -> Void = { _ in }) -> (Harness, GroupPlan)? {
        var (harness, _) = Self.gathering(with: other, otherRate: otherRate, configure: configure)
        let declaration = Declaration(step: 0, peer: other.peerID, address: "127.0.0.1:7001",
                                      bandwidth: 100_000_000, clientMode: false, samples: 28)
        harness.store(Harness.keys.declarations(step: 0, state: Harness.hash(0)), declaration.encoded(), by: other)
        for directive in harness.answerMatchmaking() {
            if case .allReduce(let plan) = directive { return (harness, plan) }
            if case .allReduceInBackground(let plan) = directive { return (harness, plan) }
        }
        return nil
    }

    /// The round of `plan` as every member averaged it (44 samples in all).
    static func averagedByAll(_ plan: GroupPlan) -> AllReduceResult {
        var result = AllReduceResult(roundID: plan.id, participants: plan.members.map(\.peer), leftOut: [], totalSamples: 44,
                                     bytesSent: 1000, bytesReceived: 1000, duration: .seconds(1), failedParts: [])
        result.plannedSamples = 44
        return result
    }

    /// The round of `plan` that `other`, already past its step, refused: this peer averaged alone.
    static func refusedAsPastTheStep(_ plan: GroupPlan, by other: PeerIdentity) -> AllReduceResult {
        let me = lowest.peerID, them = other.peerID
        var result = AllReduceResult(roundID: plan.id, participants: [me], leftOut: [them], totalSamples: 16, bytesSent: 0,
                                     bytesReceived: 0, duration: .milliseconds(2), failedParts: [plan.parts[plan.index(of: them)!]],
                                     silent: [])
        result.plannedSamples = 44
        result.pastTheRound = [them]
        return result
    }

    /// Members can see different participants (a sender late at one owner only is left out
    /// there alone); the samples the step follows are the plan's, which they share.
    @Test func theStepFollowsThePlansSamplesNotThisMembersViewOfWhoTookPart() throws {
        let other = Self.others[0]
        var (harness, plan) = try #require(Self.roundStarted(with: other) { _ in })
        var result = Self.averagedByAll(plan)
        result.totalSamples = 20
        #expect(harness.feed(.roundFinished(result)) == [.applyUpdate(skipping: [], samples: 44), .announceState])
    }

    @Test func underLocalSGDThePeerTrainsOnWhileTheRoundAveragesAndCountsThatTowardsTheNextRound() throws {
        let other = Self.others[0]
        var (harness, plan) = try #require(Self.roundStarted(with: other) { $0.trainsWhileAveraging = true })
        for _ in 0..<3 {
            harness.advance(.milliseconds(300))
            #expect(harness.feed(.trained(samples: 8, seconds: 0.3, loss: 2)) == [.train])
        }
        let result = Self.averagedByAll(plan)
        #expect(harness.feed(.roundFinished(result)) == [.applyUpdate(skipping: [], samples: 44), .announceState])
        let reported = harness.feed(.stateAnnounced(step: 1, hash: Harness.hash(1)))
        #expect(reported.last == .train)
        let meanwhile = 24 + harness.trainedWhileMatchmaking
        #expect(harness.session.step == 1 && harness.session.accumulatedSamples == meanwhile,
                "the samples trained while the group formed and the round averaged count")
        let published = reported.compactMap { if case .publishProgress(let progress, _) = $0 { progress } else { nil } }
        #expect(published.last?.step == 1 && published.last?.samplesAccumulated == meanwhile)
    }

    /// Matchmaking costs a few lookups' round trips on home links (about 1.3 s a round with
    /// 40 ms one-way latency, against rounds every 4 s): under local SGD the trainer goes on
    /// meanwhile, reading the plans and declarations in the background between micro-batches.
    @Test func underLocalSGDThePeerTrainsWhileItsGroupFormsAndReadsInTheBackground() throws {
        let other = Self.others[0]
        var (harness, gathering) = Self.gathering(with: other) {
            $0.trainsWhileAveraging = true
            $0.trainsWhileMatchmaking = true
        }
        #expect(gathering.first == .averageAccumulatedGradients)
        #expect(gathering.suffix(2) == [.readMatchmakingWhileTraining(MatchmakingKey(step: 0, stateHash: Harness.hash(0))), .train])
        // A micro-batch while the read is out: no second read.
        harness.advance(.milliseconds(200))
        #expect(harness.feed(.trained(samples: 8, seconds: 0.2, loss: 2)) == [.train])
        // The read finds the other peer's declaration: the group forms, the round starts in the
        // background, and training goes on.
        let declaration = Declaration(step: 0, peer: other.peerID, address: "127.0.0.1:7001",
                                      bandwidth: 100_000_000, clientMode: false, samples: 28)
        harness.store(Harness.keys.declarations(step: 0, state: Harness.hash(0)), declaration.encoded(), by: other)
        let formed = harness.feed(harness.matchmakingRead(MatchmakingKey(step: 0, stateHash: Harness.hash(0))))
        guard case .allReduceInBackground(let plan) = formed.dropLast().last else {
            Issue.record("expected the round in the background, got \(formed)")
            return
        }
        #expect(formed.last == .train)
        #expect(plan.members.first { $0.peer == Self.lowest.peerID }?.samples == 16, "the declared samples are the round's, not those since")
        #expect(harness.feed(.trained(samples: 8, seconds: 0.2, loss: 2)) == [.train])
        _ = harness.feed(.roundFinished(Self.averagedByAll(plan)))
        _ = harness.feed(.stateAnnounced(step: 1, hash: Harness.hash(1)))
        #expect(harness.session.accumulatedSamples == 16, "both micro-batches count towards the next round")
        #expect(!harness.directives.contains { if case .sleep = $0 { true } else { false } }, "it never waited")
    }

    /// Trains `micro-batches` of 8 samples, 0.5 s each, with the matchmaking read still out:
    /// the samples, and whether the session asked only for more training each time.
    static func trainWithTheReadOut(_ harness: inout Harness, microBatches: Int) -> (samples: Int, onlyTrained: Bool) {
        var onlyTrained = true
        for _ in 0..<microBatches {
            harness.advance(.milliseconds(500))
            onlyTrained = onlyTrained && harness.feed(.trained(samples: 8, seconds: 0.5, loss: 2)) == [.train]
        }
        return (8 * microBatches, onlyTrained)
    }

    /// On slow links a read can take longer than the gathering window. A peer that trains
    /// meanwhile decides on what the read brings, as a waiting peer does, not on the deadline
    /// alone: deciding first had it step alone while its group's declarations were on their
    /// way (most likely why LateJoinerTests' pair split into lone steps with 150 ms frames on
    /// loaded cores, when this was on).
    @Test func aDeadlineThatPassesWhileAReadIsOutWaitsForTheReadThatBringsTheGroup() throws {
        let other = Self.others[0]
        var (harness, _) = Self.gathering(with: other) {
            $0.trainsWhileAveraging = true
            $0.trainsWhileMatchmaking = true
        }
        let (_, onlyTrained) = Self.trainWithTheReadOut(&harness, microBatches: 8)
        #expect(onlyTrained, "nothing is decided while the read is out, four seconds past the gathering window")
        let declaration = Declaration(step: 0, peer: other.peerID, address: "127.0.0.1:7001",
                                      bandwidth: 100_000_000, clientMode: false, samples: 28)
        harness.store(Harness.keys.declarations(step: 0, state: Harness.hash(0)), declaration.encoded(), by: other)
        let formed = harness.feed(harness.matchmakingRead(MatchmakingKey(step: 0, stateHash: Harness.hash(0))))
        #expect(formed.contains { if case .allReduceInBackground = $0 { true } else { false } }, "got \(formed)")
    }

    @Test func aPeerWhoseReadBringsNobodyPastTheDeadlineStepsAloneAndKeepsWhatItTrainedMeanwhile() throws {
        var (harness, _) = Self.gathering(with: Self.others[0]) {
            $0.trainsWhileAveraging = true
            $0.trainsWhileMatchmaking = true
        }
        let (trained, onlyTrained) = Self.trainWithTheReadOut(&harness, microBatches: 8)
        #expect(onlyTrained)
        let alone = harness.feed(harness.matchmakingRead(MatchmakingKey(step: 0, stateHash: Harness.hash(0))))
        #expect(alone == [.applyUpdate(skipping: [], samples: 16), .announceState])
        _ = harness.feed(.stateAnnounced(step: 1, hash: Harness.hash(1)))
        #expect(harness.session.step == 1 && harness.session.accumulatedSamples == trained,
                "what it trained while it waited goes into its next round")
    }

    @Test func whatWasTrainedWhileARoundFailedIsDiscardedWithIt() throws {
        let other = Self.others[0]
        var (harness, plan) = try #require(Self.roundStarted(with: other) { $0.trainsWhileAveraging = true })
        #expect(harness.feed(.trained(samples: 8, seconds: 0.3, loss: 2)) == [.train])
        let result = Self.refusedAsPastTheStep(plan, by: other)
        let finished = harness.feed(.roundFinished(result))
        #expect(finished.first == .discardGradients)
        #expect(harness.session.accumulatedSamples == 0)
    }

    @Test func aStopWhileTheRoundAveragesInTheBackgroundWaitsForTheRound() throws {
        var (harness, _) = try #require(Self.roundStarted(with: Self.others[0]) { $0.trainsWhileAveraging = true })
        harness.session.requestStop()
        #expect(harness.feed(.trained(samples: 8, seconds: 0.3, loss: 2)) == [.awaitRound])
    }

    @Test func aRoundWhoseOtherMembersArePastTheStepIsNotAppliedAndTheirNextStateIsAwaited() throws {
        // The other peer stepped alone before this one's declaration reached it, and refused
        // the round's chunks. Before, this peer applied its own gradient alone and forked the run.
        let other = Self.others[0]
        var (harness, plan) = try #require(Self.roundStarted(with: other), "expected the round to start")
        let them = other.peerID
        let result = Self.refusedAsPastTheStep(plan, by: other)
        let finished = harness.feed(.roundFinished(result))
        #expect(finished.first == .discardGradients)
        #expect(!finished.contains { if case .applyUpdate = $0 { true } else { false } })
        #expect(finished.contains(.note(.couldNotAverage(step: 0, reason: .othersPastTheStep(step: 0, count: 1)))))
        #expect(finished.last == .readStateAnnouncements, "it waits for the state the other peer reached")
        #expect(harness.session.excludedPeers[them] == nil, "a peer past the step held nothing up")

        harness.announcement(of: other, step: 1, hash: Harness.hash(1))
        let loading = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        #expect(loading.contains { if case .replayUpdates = $0 { true } else if case .downloadState = $0 { true } else { false } })
    }

    @Test func anOwnerWhoseAverageFailsTheNormCheckTwiceIsExcluded() throws {
        // Before, an owner poisoning its part with finite values had it skipped every round and
        // was never kept out: it cost the run its part of every round it joined.
        let other = Self.others[0]
        let them = other.peerID
        for earlier in [0, 1] {
            var (harness, plan) = try #require(Self.roundStarted(with: other), "expected the round to start")
            harness.session.outOfBoundAverages[them] = earlier == 0 ? nil : earlier
            var result = AllReduceResult(roundID: plan.id, participants: plan.members.map(\.peer), leftOut: [], totalSamples: 44,
                                         bytesSent: 1000, bytesReceived: 1000, duration: .seconds(1),
                                         failedParts: [plan.parts[plan.index(of: them)!]], silent: [])
            result.plannedSamples = 44
            result.outOfBoundAverages = [them]
            let finished = harness.feed(.roundFinished(result))
            let excluded = earlier + 1 == harness.session.settings.outOfBoundAveragesToExclude
            #expect(finished.first == .note(.outOfBoundAverage(step: 0, owner: them, count: earlier + 1, excluded: excluded)))
            #expect(finished.contains(.applyUpdate(skipping: result.failedParts, samples: 44)), "the rest of the round counts")
            #expect((harness.session.excludedPeers[them] != nil) == excluded)
            #expect(harness.session.outOfBoundAverages[them] == (excluded ? nil : earlier + 1))
        }
    }

    /// A session that averaged step 0 with `other` (28 samples at `otherRate` a second) and
    /// trains at step 1; nil when the round did not start.
    static func afterOneRound(with other: PeerIdentity, otherRate: Double = 10) -> Harness? {
        guard let (started, plan) = roundStarted(with: other, otherRate: otherRate) else { return nil }
        var harness = started
        let result = Self.averagedByAll(plan)
        _ = harness.feed(.roundFinished(result))
        #expect(harness.feed(.stateAnnounced(step: 1, hash: Harness.hash(1))).last == .train)
        return harness
    }

    @Test func afterARoundAveragingWaitsUntilMostMembersAnnouncedTheirNewState() throws {
        let other = Self.others[0]
        var harness = try #require(Self.afterOneRound(with: other), "expected the round to start")

        // The other member has not announced step 1 yet: do not compare, and do not train past
        // the run's complete batch either; look again shortly.
        harness.progress(of: other, step: 1, samples: 28)
        _ = harness.trainUntilItLooksAtTheRun(samples: 16)
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.readStateAnnouncements])
        let waiting = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        guard case .sleep(let until) = waiting.last, waiting.count == 1 else {
            Issue.record("expected a short sleep, got \(waiting)")
            return
        }
        #expect(until == harness.monotonic + harness.session.settings.matchmakingPoll)
        harness.clock.advance(to: until)
        #expect(harness.feed(.woke) == [.readStateAnnouncements])
        // Once it has, with the same state, the round gathers.
        harness.announcement(of: other, step: 1, hash: Harness.hash(1))
        #expect(harness.feed(.stateAnnouncementsRead(harness.announcements())).first == .averageAccumulatedGradients)
    }

    @Test func aGroupThatCannotFormDiscardsTheGradientsAndReportsWhy() {
        var harness = Self.started(Self.others[0])
        // A peer with a lower id declares, so this one follows it, and no plan ever comes.
        let leader = Self.lowest
        _ = harness.trainUntilItLooksAtTheRun(samples: 16)
        _ = harness.feed(.connectivityChecked(.connected))
        harness.progress(of: leader, step: 0, samples: 28)
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.feed(.stateAnnouncementsRead([]))
        let declaration = Declaration(step: 0, peer: leader.peerID, address: "127.0.0.1:7001",
                                      bandwidth: 100_000_000, clientMode: false, samples: 28)
        harness.store(Harness.keys.declarations(step: 0, state: Harness.hash(0)), declaration.encoded(), by: leader)
        let failed = harness.answerMatchmaking()
        #expect(failed.first == .discardGradients)
        #expect(failed.last == .train)
        #expect(failed.contains { if case .publishRoundReport(let report) = $0 { report.members == 0 } else { false } })
        #expect(harness.session.excludedPeers.keys.contains(leader.peerID))
    }

    @Test func aPeerAloneInTheRunStepsAloneOnceTheGatherWindowCloses() {
        var harness = Self.started()
        _ = Self.lookAtTheRunsStates(&harness)
        let own = harness.session.accumulatedSamples
        let alone = harness.answerMatchmaking()
        #expect(own > 0 && alone == [.applyUpdate(skipping: [], samples: own), .announceState], "alone, its own samples are the round's")
        let reported = harness.feed(.stateAnnounced(step: 1, hash: Harness.hash(1)))
        guard case .publishRoundReport(let report) = reported.first else {
            Issue.record("expected the round report, got \(reported)")
            return
        }
        #expect(report.members == 1 && report.samples >= 32)
        #expect(harness.notes.contains { if case .steppedAlone = $0 { true } else { false } })
    }

    @Test func aPeerWhoseStateDiffersFromWhatTheLivePeersHoldReloadsTheirsBeforeAveraging() {
        var harness = Self.started()
        for peer in Self.others.prefix(2) {
            harness.progress(of: peer, step: 0, samples: 20)
            harness.announcement(of: peer, step: 0, hash: Harness.hash(7))
        }
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.readStateAnnouncements])
        let reload = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        #expect(reload.first == .note(.hashMismatch(step: 0, agreeingVoters: 2, mismatches: 1)))
        guard case .downloadState(0, Harness.hash(7), let donors) = reload.last else {
            Issue.record("expected the agreed state's download, got \(reload)")
            return
        }
        #expect(donors.count == 2)
        _ = harness.feed(.stateLoaded(step: 0))
        #expect(harness.feed(.stateAnnounced(step: 0, hash: Harness.hash(7))) == [harness.ownPublication(), .readProgressWhileTraining, .train])
        #expect(harness.session.hashMismatches == 1)
    }

    @Test func aPeerBehindTheRunCatchesUpInsteadOfAveraging() {
        var harness = Self.started()
        for peer in Self.others.prefix(2) { harness.progress(of: peer, step: 5, samples: 0) }
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        #expect(harness.feed(.progressRead(harness.progressRecords()))
            == [.note(.behindTheRun(ownStep: 0, runStep: 5)), .readStateAnnouncements])
    }

    @Test func aStoppedPeerSaysGoodbyeWithARecordThatCountsNothing() {
        var harness = Self.started()
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        #expect(harness.feed(.progressRead([])) == [.train])
        harness.session.requestStop()
        let leaving = harness.feed(.trained(samples: 4, seconds: 0.1, loss: 2))
        guard case .leave(let goodbye) = leaving.last else {
            Issue.record("expected the goodbye, got \(leaving)")
            return
        }
        #expect(goodbye.samplesAccumulated == 0 && goodbye.samplesPerSecond == 0 && goodbye.timestampMilliseconds == 0)
        #expect(harness.session.hasLeft)
    }

    @Test func trainingGoesOnWhileTheProgressIsReadAndNoSecondReadStartsMeanwhile() {
        var harness = Self.started(targetBatch: 10_000)
        _ = harness.trainUntilItLooksAtTheRun()
        let cycle = harness.feed(.connectivityChecked(.connected))
        #expect(cycle == [harness.ownPublication(), .readProgressWhileTraining, .train])
        // The read takes longer than several progress intervals: micro-batches go on, no new read.
        for _ in 0..<30 {
            harness.advance(.milliseconds(100))
            #expect(harness.feed(.trained(samples: 4, seconds: 0.1, loss: 2)) == [.train])
        }
        #expect(harness.feed(.progressRead([])) == [.train])
        #expect(harness.trainUntilItLooksAtTheRun() == [.checkStillAdmitted, .rejoinIfIsolated])
    }

    @Test func aPeerStopsTrainingWhereItProjectsTheRunsBatchCompleteAndWaitsForTheReadThatDecides() {
        var harness = Self.started()
        let other = Self.others[0]
        // The other peer has 12 of the 32 samples and adds 10 a second; this one adds 40.
        harness.progress(of: other, step: 0, samples: 12, rate: 10)
        #expect(harness.trainUntilItLooksAtTheRun() == [.checkStillAdmitted, .rejoinIfIsolated])
        #expect(harness.feed(.connectivityChecked(.connected)).suffix(2) == [.readProgressWhileTraining, .train])
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.train])
        // At 0.4 s, 16 own and 12 + 4 projected make 32, before the progress interval is over:
        // the peer looks at the run at once and does not train while it reads.
        #expect(harness.trainUntilItLooksAtTheRun() == [.checkStillAdmitted, .rejoinIfIsolated])
        #expect(harness.monotonic == .zero + .milliseconds(400) && harness.session.accumulatedSamples == 16)
        #expect(harness.session.projectedRunProgress(at: harness.now).isTargetReached)
        #expect(harness.feed(.connectivityChecked(.connected)) == [harness.ownPublication(), .readProgress])
        // The read confirms: compare states, then average; not one more micro-batch.
        harness.progress(of: other, step: 0, samples: 16, rate: 10)
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.readStateAnnouncements])
    }

    @Test func afterARoundTheOtherMembersCountAtTheNewStepBeforeTheirNewRecordsAreRead() throws {
        var harness = try #require(Self.afterOneRound(with: Self.others[0], otherRate: 40), "expected the round to start")
        // The last read still shows the other member at step 0. It stepped too, and adds 40
        // samples a second like this peer: the batch of 32 looks complete after 0.4 s, before
        // the progress interval ends (counting only itself, this peer would train on to 0.5 s).
        let started = harness.monotonic
        #expect(harness.trainUntilItLooksAtTheRun() == [.checkStillAdmitted, .rejoinIfIsolated])
        #expect(harness.monotonic - started == .milliseconds(400) && harness.session.accumulatedSamples == 16)
    }

    /// The shell stores the round report before it trains on, and so do the other members: this
    /// peer counts them as training from the round's end plus the time its own store took.
    /// Counted from the end itself, the batch of 32 looked complete 0.45 s after the round with
    /// 14 samples of this peer's and 18 projected of the other's, which had trained 14 too.
    @Test func afterARoundTheOtherMembersCountAsTrainingOnlyOnceTheirRoundReportIsStored() throws {
        var harness = try #require(Self.afterOneRound(with: Self.others[0], otherRate: 40), "expected the round to start")
        let roundEnd = harness.monotonic
        harness.advance(.milliseconds(100))
        #expect(harness.trainUntilItLooksAtTheRun(samples: 2, seconds: 0.05) == [.checkStillAdmitted, .rejoinIfIsolated])
        #expect(harness.monotonic - roundEnd == .milliseconds(500) && harness.session.accumulatedSamples == 16)
        #expect(harness.session.projectedRunProgress(at: harness.now).samplesAccumulated == 32)
    }

    @Test func aBackgroundReadStillOutWhenTheBatchLooksCompleteIsWaitedFor() {
        var harness = Self.started()
        harness.progress(of: Self.others[0], step: 0, samples: 20, rate: 0)
        #expect(harness.trainUntilItLooksAtTheRun() == [.checkStillAdmitted, .rejoinIfIsolated])
        #expect(harness.feed(.connectivityChecked(.connected)).suffix(2) == [.readProgressWhileTraining, .train])
        // The read is slow and no earlier one told of the other peer: the projection counts
        // only this peer's samples until the read's answer comes.
        #expect(harness.trainUntilItLooksAtTheRun() == [.awaitProgressRead])
        #expect(harness.session.accumulatedSamples == 32)
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.readStateAnnouncements])
    }

    @Test func anIsolatedPeerTriesToRejoinWithGrowingPausesAndTrainsMeanwhile() {
        // A target its own samples do not reach in the test's eight seconds.
        var harness = Self.started(targetBatch: 10_000)
        var rejoinTimes: [Int64] = []
        var retries: [Int] = []
        while harness.monotonic < .zero + .seconds(8) {
            var batch = harness.trainUntilItLooksAtTheRun()
            #expect(batch.first == .checkStillAdmitted)
            if batch.last == .rejoinIfIsolated {
                rejoinTimes.append(harness.monotonic.nanoseconds / 1_000_000)
                batch = harness.feed(.connectivityChecked(.isolated))
                if case .note(.isolated(let retry)) = batch.first { retries.append(retry) }
            }
            #expect(batch.contains(.readProgressWhileTraining) && batch.last == .train)
            #expect(harness.feed(.progressRead([])) == [.train])
        }
        #expect(rejoinTimes == [100, 1_100, 3_100, 7_100])
        #expect(retries == [1, 2, 4, 8])
    }
}

extension VolunteerSessionHarness {
    /// Answers the matchmaking's sleeps and reads from the stored records until it asks for
    /// something else.
    mutating func answerMatchmaking() -> [VolunteerSession.Directive] {
        var batch = directives.suffix(1).map { $0 }
        while true {
            switch batch.last {
            case .sleep(let until):
                clock.advance(to: until)
                batch = feed(.woke)
            case .readMatchmaking(let key):
                batch = feed(matchmakingRead(key))
            case .train where matchmakingReadOut != nil:
                // As the shell: a micro-batch trains while the read is out, and the read, in by
                // then, answers the train after it.
                clock.advance(by: session.settings.matchmakingPoll)
                trainedWhileMatchmaking += 4
                batch = feed(.trained(samples: 4, seconds: 0.15, loss: 2))
                if batch.last == .train, let key = matchmakingReadOut {
                    matchmakingReadOut = nil
                    batch = feed(matchmakingRead(key))
                }
            default:
                return batch
            }
        }
    }

    /// The step's plans and declarations as stored now.
    func matchmakingRead(_ key: MatchmakingKey) -> VolunteerSession.Event {
        .matchmakingRead(plans: OwnedRecord.decoding(read(Self.keys.plan(key))) { try GroupPlan(decoding: $0[...]) },
                         declarations: OwnedRecord.decoding(read(Self.keys.declarations(key))) {
                             try Declaration(decoding: $0[...])
                         })
    }

    /// The progress record this session publishes now.
    func ownPublication() -> VolunteerSession.Directive {
        .publishProgress(session.ownProgress(now), lifetime: session.settings.progressLifetime)
    }
}
