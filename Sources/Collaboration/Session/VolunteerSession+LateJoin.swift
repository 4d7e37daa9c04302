import Averaging
import CohortBase

extension VolunteerSession {
    /// A late join in progress: this peer counts at the elected state's step, and averages its
    /// next round there, while its trainer still holds the state it left (`fromStep`) and the
    /// update between the two is fetched in the background (`replayUpdatesInBackground`).
    struct LateJoin: Sendable {
        var fromStep: Int
        var fromHash: [UInt8]
        /// Why the replay failed, when it did while a round was averaging: the round's result
        /// cannot be applied to the state this peer holds.
        var failure: String?
    }

    /// What waits for the background replay (`awaitBackgroundReplay`).
    enum AfterReplay: Sendable {
        /// The round finished; its result is applied once the trainer holds the state it
        /// averaged at.
        case roundFinished(RoundInProgress, AllReduceResult, CarriedTraining)
    }

    /// Whether a peer the run left one step behind joins the run's next round at once
    /// (`joinLate`) rather than replaying first: it trains on while rounds average, and the
    /// elected state is one step ahead of its own, reachable by a replay. It need not have
    /// trained yet: a replay that outlasted a round leaves it one step behind with nothing
    /// trained, and it trains for the round it joins.
    func mayJoinLate(_ elected: ElectedState) -> Bool {
        joinsLate && lateJoin == nil && elected.step == step + 1 && canReplay(to: elected)
    }

    /// Late joins are on: they need rounds averaged while training.
    var joinsLate: Bool { settings.joinsLate && settings.trainsWhileAveraging }

    /// Moves this peer to the elected state's step with what it trained on the state before,
    /// as the run's members are: they too trained through the round on the state before it.
    /// The update it missed is fetched in the background and applied before the next round's
    /// result (docs/protocol.md, "Late join"); published at once, its count is in the run's
    /// batch for that round.
    mutating func joinLate(_ elected: ElectedState, _ now: Now) -> [Directive] {
        let replay = Directive.replayUpdatesInBackground(fromStep: step, fromHash: announcedHash, toStep: elected.step,
                                                         toHash: elected.hash, donors: elected.donors)
        let note = Directive.note(.joiningLate(fromStep: step, toStep: elected.step))
        lateJoin = LateJoin(fromStep: step, fromHash: announcedHash)
        step = elected.step
        announcedHash = elected.hash
        lineage.forget()
        lastRound = nil
        pendingAgreement = nil
        lastPublished = now.monotonic
        let joined: [Directive] = [note, replay] + progressPublications(now)
        if accumulatedSamples > 0, batchLooksComplete(now) {
            // The members trained the round's batch while the round it missed averaged: they
            // gather at once, and a peer that trained one more micro-batch and read the run
            // again first would find the group formed without it again.
            return joined + beginMatchmaking(expectedPeers: projectedRunProgress(at: now).expectedGroupSize, now)
        }
        return joined + trainOrLeave(now)
    }

    /// The background replay is over, told in place of a `train`.
    mutating func backgroundReplayFinished(_ outcome: BackgroundReplayOutcome, _ now: Now) -> [Directive] {
        guard let join = lateJoin else { preconditionFailure("a background replay finished with no late join: \(outcome)") }
        switch (phase, outcome) {
        case (.training, .landed):
            lateJoin = nil
            phase = .announcing(.train)
            return [.announceState]
        case (.training, .failed(let reason)):
            let note = Directive.note(.stateReplayFailed(fromStep: join.fromStep, toStep: step, reason: reason))
            endLateJoin()
            return [note] + beginCatchUp(force: true, progressKnown: false)
        case (.averagingWhileTraining, .landed):
            // The state it reached is announced with the round's, after it.
            lateJoin = nil
            return [stopRequested ? .awaitRound : .train]
        case (.averagingWhileTraining, .failed(let reason)):
            lateJoin?.failure = reason
            return [stopRequested ? .awaitRound : .train]
        case (.awaitingReplay(.roundFinished(let round, let result, let carried)), .landed):
            lateJoin = nil
            carriedTraining = carried
            return roundFinished(round, result, now)
        case (.awaitingReplay(.roundFinished(let round, _, _)), .failed(let reason)):
            return lateJoinFailed(round, reason: reason, now)
        default:
            preconditionFailure("a background replay finished (\(outcome)) in \(phase)")
        }
    }

    /// The late joiner's round finished: its result applies once the replay has.
    mutating func lateJoinRoundFinished(_ round: RoundInProgress, _ result: AllReduceResult, carried: CarriedTraining,
                                        _ now: Now) -> [Directive] {
        if let reason = lateJoin?.failure { return lateJoinFailed(round, reason: reason, now) }
        phase = .awaitingReplay(.roundFinished(round, result, carried))
        return [.awaitBackgroundReplay]
    }

    /// The missed update could not be had: the round's result cannot be applied to the state
    /// this peer holds, so it is dropped with what was trained, and the run's state is loaded.
    private mutating func lateJoinFailed(_ round: RoundInProgress, reason: String, _ now: Now) -> [Directive] {
        let note = Directive.note(.stateReplayFailed(fromStep: lateJoin?.fromStep ?? step, toStep: round.step, reason: reason))
        carriedTraining = nil
        accumulatedSamples = 0
        endLateJoin()
        return [note, .discardGradients] + beginCatchUp(force: true, progressKnown: false)
    }

    /// Forgets the late join before anything that loads a state or judges this peer's own: the
    /// trainer holds the state it started from again, with no replay to come.
    mutating func abandonLateJoin() -> [Directive] {
        guard lateJoin != nil else { return [] }
        endLateJoin()
        return [.cancelBackgroundReplay]
    }

    /// The late join is over without its replay: this peer is at the state it started from.
    private mutating func endLateJoin() {
        guard let join = lateJoin else { return }
        lateJoin = nil
        step = join.fromStep
        announcedHash = join.fromHash
        lineage.forget()
    }
}
