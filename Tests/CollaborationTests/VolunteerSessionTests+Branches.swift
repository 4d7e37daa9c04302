import CohortBase
import DHT
import Testing
@testable import Collaboration

/// A peer that stepped on alone, ahead of the others (`StateLineage`): comparing states of its
/// own step finds nobody to disagree with, so announcements of earlier steps have to show the fork.
extension VolunteerSessionTests {
    /// Trains until the peer reads the run's state announcements before averaging, and hands
    /// it the stored ones: what it does next.
    static func lookAtTheRunsStates(_ harness: inout Harness) -> [VolunteerSession.Directive] {
        var batch = harness.trainUntilItLooksAtTheRun()
        while batch.last != .readStateAnnouncements {
            switch batch.last {
            case .rejoinIfIsolated: batch = harness.feed(.connectivityChecked(.connected))
            case .train where batch.contains(.readProgressWhileTraining):
                // The background read's answer comes in place of the next micro-batch.
                batch = harness.feed(.progressRead(harness.progressRecords()))
            case .train: batch = harness.trainUntilItLooksAtTheRun()
            case .readProgress, .awaitProgressRead: batch = harness.feed(.progressRead(harness.progressRecords()))
            default:
                Issue.record("unexpected \(batch)")
                return batch
            }
        }
        return harness.feed(.stateAnnouncementsRead(harness.announcements()))
    }

    /// Takes the peer through a step alone (nobody declares) to `hash`.
    static func stepAlone(_ harness: inout Harness, to hash: [UInt8]) {
        _ = lookAtTheRunsStates(&harness)
        let alone = harness.answerMatchmaking()
        #expect(alone.last == .announceState, "expected a step alone, got \(alone)")
        _ = harness.feed(.stateAnnounced(step: harness.session.step + 1, hash: hash))
    }

    /// Two live peers at `step` that announced `hash` there, with most of the batch trained.
    static func othersAt(step: Int, hash: [UInt8], in harness: inout Harness) -> [PeerIdentity] {
        let pair = Array(others.prefix(2))
        for (index, peer) in pair.enumerated() {
            harness.progress(of: peer, step: step, samples: 15)
            harness.announcement(of: peer, step: step, hash: hash, port: 7101 + UInt16(index))
        }
        return pair
    }

    /// A peer that stepped alone from step 0 to 1 (hash 11) and 2 (hash 12) while the two others
    /// still announced the state of step 0, which it stepped from: its own branch.
    static func twoStepsAheadAlone() -> Harness {
        var harness = started()
        for hash in [Harness.hash(11), Harness.hash(12)] {
            _ = othersAt(step: 0, hash: Harness.hash(0), in: &harness)
            stepAlone(&harness, to: hash)
        }
        return harness
    }

    @Test func aPeerThatSteppedAloneAheadOfTheOthersGoesBackToTheStateMorePeersHold() {
        var harness = Self.twoStepsAheadAlone()
        #expect(harness.session.step == 2)

        // Meanwhile the two stepped together to a state of step 1 this peer never held.
        let pair = Self.othersAt(step: 1, hash: Harness.hash(7), in: &harness)
        let reload = Self.lookAtTheRunsStates(&harness)
        #expect(reload.contains(.note(.onAnotherBranch(step: 2, branchStep: 1, branchVoters: 2, ownVoters: 1))))
        guard case .downloadState(1, Harness.hash(7), let donors) = reload.last else {
            Issue.record("expected the other branch's state, got \(reload)")
            return
        }
        #expect(Set(donors.map(\.peer)) == Set(pair.map(\.peerID)))
        _ = harness.feed(.stateLoaded(step: 1))
        _ = harness.feed(.stateAnnounced(step: 1, hash: Harness.hash(7)))
        #expect(harness.session.step == 1 && harness.session.hashMismatches == 1)
    }

    @Test func peersStillAtAStateThisPeerPassedThroughAreOnItsBranch() {
        var harness = Self.twoStepsAheadAlone()
        // They replayed this peer's update of step 0: behind, on the same branch.
        _ = Self.othersAt(step: 1, hash: Harness.hash(11), in: &harness)
        let next = Self.lookAtTheRunsStates(&harness)
        #expect(!next.contains { if case .downloadState = $0 { true } else { false } }, "got \(next)")
        #expect(!harness.notes.contains { if case .onAnotherBranch = $0 { true } else { false } })
    }

    @Test func aLoneRivalAtAnEarlierStepIsATieAndMovesNobody() {
        var harness = Self.twoStepsAheadAlone()
        let rival = Self.others[0]
        harness.progress(of: rival, step: 1, samples: 30)
        harness.announcement(of: rival, step: 1, hash: Harness.hash(7))
        let next = Self.lookAtTheRunsStates(&harness)
        #expect(!next.contains { if case .downloadState = $0 { true } else { false } }, "got \(next)")
    }

    /// Peers ahead of it may be on its branch, and it cannot tell: identities announcing a state
    /// of an earlier step move it only as a majority of all live peers.
    @Test func identitiesAtAnEarlierStepDoNotOutvoteTheLivePeersAheadOfIt() {
        var harness = Self.twoStepsAheadAlone()
        let (ahead, liars) = (Array(Self.others.prefix(2)), Array(Self.others.suffix(2)))
        for (index, peer) in ahead.enumerated() {
            harness.progress(of: peer, step: 3, samples: 0)
            harness.announcement(of: peer, step: 3, hash: Harness.hash(13), port: 7101 + UInt16(index))
        }
        for (index, liar) in liars.enumerated() {
            harness.progress(of: liar, step: 1, samples: 30)
            harness.announcement(of: liar, step: 1, hash: Harness.hash(66), port: 7201 + UInt16(index))
        }
        let next = Self.lookAtTheRunsStates(&harness)
        #expect(!next.contains { if case .downloadState = $0 { true } else { false } }, "got \(next)")
        #expect(harness.session.step == 2)
    }

    @Test func afterALoadEarlierStepsAreUnknownNotAnotherBranch() {
        var lineage = StateLineage()
        lineage.record(step: 4, hash: Harness.hash(4))
        lineage.record(step: 5, hash: Harness.hash(5))
        #expect(lineage.relation(ofStep: 4, hash: Harness.hash(9)) == .anotherBranch)
        #expect(lineage.relation(ofStep: 5, hash: Harness.hash(5)) == .passedThrough)
        #expect(lineage.relation(ofStep: 3, hash: Harness.hash(9)) == .unknown)
        #expect(lineage.relation(ofStep: 6, hash: Harness.hash(9)) == .unknown)
        lineage.forget()
        lineage.record(step: 9, hash: Harness.hash(1))
        #expect(lineage.relation(ofStep: 5, hash: Harness.hash(9)) == .unknown)
        lineage.record(step: 11, hash: Harness.hash(2))
        #expect(lineage.relation(ofStep: 9, hash: Harness.hash(9)) == .unknown, "a gap starts a new lineage")
        for step in 12..<(12 + StateLineage.capacity) { lineage.record(step: step, hash: Harness.hash(3)) }
        #expect(lineage.relation(ofStep: 11, hash: Harness.hash(9)) == .unknown, "only the newest steps are kept")
        #expect(lineage.relation(ofStep: 12, hash: Harness.hash(9)) == .anotherBranch)
    }
}
