import CohortBase
import Averaging
import DHT
import Wire

extension VolunteerSession {
    /// Whether this peer may average its next round: its state is the one the run's peers at
    /// this step agree on.
    ///
    /// Peers at the same step must hold the same state, but a fault can leave them with
    /// different ones: an owner that died while sending its average (some members applied
    /// that part, others skipped it), or peers that could not gather in time and stepped
    /// alone. Before averaging, a peer therefore compares its state with every peer's
    /// announcement for this step, once most of the last round's other members have announced
    /// (or `averagingTimeout` passed: members finish a round up to that far apart). The live
    /// peers vote, one vote each (`StateElection`). If the state they elect is not its own, it
    /// counts the mismatch and loads the agreed state, and accumulates gradients on that state
    /// before it averages.
    mutating func checkAgreement(_ records: [OwnedRecord<StateAnnouncement>], expectedPeers: Int, _ now: Now) -> [Directive] {
        let (notes, ballots) = ballots(in: records, now)
        if let pending = pendingAgreement {
            let members = ballots.filter { pending.members.contains($0.voter) }
            // Most of the other members, not all: one member that never announces would
            // otherwise hold every round it joins up for the whole deadline. Late announcers
            // are compared at the next round.
            let caughtUp = members.filter { $0.announcement.step >= pending.step }.count
            let mostAnnounced = pending.step != step || 2 * caughtUp > pending.members.count
            guard mostAnnounced || now.monotonic >= pending.deadline || stopRequested else {
                // The run's batch is complete: samples trained now would overshoot it.
                return notes + [.sleep(until: min(pending.deadline, now.monotonic + settings.matchmakingPoll))]
            }
            pendingAgreement = nil
        }
        // The live peers vote, not only the last round's members: a round made up mostly of
        // one attacker's identities must not outvote the run.
        guard let agreed = electedState(ballots, step: step), agreed.hash != announcedHash else {
            if let branch = strongerBranch(ballots) {
                if branch.state.donors.isEmpty { return notes + catchUpElsewhere(branch.state, now) }
                return notes + loadStrongerBranch(branch, expectedPeers: expectedPeers)
            }
            return notes + beginMatchmaking(expectedPeers: expectedPeers, now)
        }
        if agreed.donors.isEmpty && !agreed.donorShards.isEmpty { return notes + catchUpElsewhere(agreed, now) }
        hashMismatches += 1
        let agreedStep = step
        // The agreed state replaces whatever a late join would have replayed to.
        let abandoned = abandonLateJoin()
        phase = .reloadingAgreedState(expectedPeers: expectedPeers)
        return notes + abandoned + [.note(.hashMismatch(step: agreedStep, agreeingVoters: agreed.voters, mismatches: hashMismatches)),
                                    .downloadState(step: agreedStep, hash: agreed.hash, donors: agreed.donors)]
    }

    /// The state that most live peers hold on another branch of the run's history, a state of
    /// an earlier step that this peer did not pass through (`StateLineage`), when more than
    /// half of the live peers hold it; with the count of those at this peer's own state or at
    /// one it passed through, itself included. A strict majority of all live peers, not only
    /// more than this peer's branch: the peers ahead of it may well be on its branch, and it
    /// cannot tell, so a few identities announcing an old step must not outvote them. Nil
    /// too when the state has no donor. A tie leaves each side where it is: the peer behind
    /// loads the one ahead when it catches up.
    func strongerBranch(_ ballots: [StateElection.Ballot]) -> (state: ElectedState, ownVoters: Int)? {
        if settings.shards.isSharded { return shardedStrongerBranch(ballots) }
        let voters = liveVoters
        var ownVoters = 1
        var otherBranches: [StateElection.Ballot] = []
        for ballot in ballots where ballot.voter != settings.me && voters.contains(ballot.voter) {
            switch lineage.relation(ofStep: ballot.announcement.step, hash: ballot.announcement.stateHash) {
            case .passedThrough: ownVoters += 1
            // Rivals at this peer's own step lost the election above, so they cannot outvote it here.
            case .anotherBranch: otherBranches.append(ballot)
            case .unknown: break
            }
        }
        guard let winner = StateElection.winner(of: otherBranches), 2 * winner.voters > voters.count, !winner.donors.isEmpty else {
            return nil
        }
        let state = ElectedState(step: winner.step, hash: winner.hash, voters: winner.voters,
                                 donors: winner.donors.map { StateDonor(peer: $0.0, endpoint: $0.1) })
        return (state, ownVoters)
    }

    /// The agreed state, in a run of several shards, is served only in another shard: its
    /// donors are read there (`readDonors`) and it is loaded as a catch-up loads it.
    private mutating func catchUpElsewhere(_ agreed: ElectedState, _ now: Now) -> [Directive] {
        hashMismatches += 1
        let note = Directive.note(.hashMismatch(step: step, agreeingVoters: agreed.voters, mismatches: hashMismatches))
        let abandoned = abandonLateJoin()
        phase = .catchingUp(.readingDonors(CatchUp(force: true, attempted: true), agreed))
        return [note] + abandoned + [.readDonors(shard: agreed.donorShards.first ?? settings.shards.shard(of: settings.me))]
    }

    /// Goes back to the other branch's state: this peer's steps since the fork are its alone.
    private mutating func loadStrongerBranch(_ branch: (state: ElectedState, ownVoters: Int), expectedPeers: Int) -> [Directive] {
        hashMismatches += 1
        let ownStep = step
        let abandoned = abandonLateJoin()
        phase = .reloadingAgreedState(expectedPeers: expectedPeers)
        return abandoned + [.note(.onAnotherBranch(step: ownStep, branchStep: branch.state.step, branchVoters: branch.state.voters,
                                                   ownVoters: branch.ownVoters)),
                            .downloadState(step: branch.state.step, hash: branch.state.hash, donors: branch.state.donors)]
    }
}
