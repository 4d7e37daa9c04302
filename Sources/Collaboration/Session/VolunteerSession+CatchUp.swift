import CohortBase
import Averaging
import DHT
import Wire

extension VolunteerSession {
    /// Downloads the state the run's peers elect (`StateElection`), unless this peer already
    /// has it. Without `force`, a run nobody has stepped yet starts from the shared initial
    /// state. When no elected state can be had (every peer that trained the run has left,
    /// though their announcements linger) and the coordinator serves a newer checkpoint, the
    /// run goes on from the checkpoint.
    mutating func beginCatchUp(force: Bool, progressKnown: Bool, mayJoinLate: Bool = false) -> [Directive] {
        let abandoned = abandonLateJoin()
        let catchUp = CatchUp(force: force, mayJoinLate: mayJoinLate)
        if progressKnown {
            phase = .catchingUp(.readingState(catchUp))
            return abandoned + [.readStateAnnouncements]
        }
        phase = .catchingUp(.readingProgress(catchUp))
        // A background read still out answers instead of a new one: left out, its answer
        // would come in place of a micro-batch in whatever the catch-up leads to.
        guard !progressReadInFlight else {
            progressReadInFlight = false
            return abandoned + [.awaitProgressRead]
        }
        return abandoned + [.readProgress]
    }

    mutating func continueCatchUp(_ stage: CatchUpStage, _ event: Event, _ now: Now) -> [Directive] {
        switch (stage, event) {
        case (.readingProgress(let catchUp), .progressRead(let records, let totals)):
            rememberProgress(records, totals: totals, now)
            phase = .catchingUp(.readingState(catchUp))
            return [.readStateAnnouncements]
        case (.readingState(let catchUp), .stateAnnouncementsRead(let records)):
            let (notes, ballots) = ballots(in: records, now)
            if let elected = electedState(ballots, step: nil),
               elected.step > step || (catchUp.force && elected.step == step && elected.step > 0 && elected.hash != announcedHash) {
                if catchUp.mayJoinLate, mayJoinLate(elected) { return notes + joinLate(elected, now) }
                return notes + load(elected, catchUp)
            }
            phase = .catchingUp(.readingCheckpoint(catchUp))
            return notes + [.readCheckpoint]
        case (.awaitingNewerState(let catchUp, let deadline, let suspects), .stateAnnouncementsRead(let records)):
            let (notes, ballots) = ballots(in: records, now)
            if let elected = electedState(ballots, step: nil), elected.step > step {
                if catchUp.mayJoinLate, mayJoinLate(elected) { return notes + joinLate(elected, now) }
                return notes + load(elected, catchUp)
            }
            if now.monotonic >= deadline, !suspects.isEmpty {
                // The group that left this peer out never stepped: a plan anyone can publish,
                // of identities that declared, cost this peer its batch. Its members are kept
                // out of this peer's next groups, so that the same identities cannot again;
                // honest members of a round that failed are kept out as long, which costs them
                // a smaller group, not a batch.
                for member in suspects { excludedPeers[member] = settings.exclusionAttempts }
                return notes + [.note(.groupNeverStepped(step: step, members: suspects))] + trainOrLeave(now)
            }
            guard now.monotonic < deadline, !stopRequested else { return notes + trainOrLeave(now) }
            return notes + [.sleep(until: min(deadline, now.monotonic + settings.matchmakingPoll))]
        case (.awaitingNewerState, .woke):
            return readRunsStateAgain()
        case (.awaitingNewerState, .progressRead(let records, let totals)):
            rememberProgress(records, totals: totals, now)
            return [.readStateAnnouncements]
        case (.readingDonors(let catchUp, var elected), .stateAnnouncementsRead(let records)):
            // Only the elected state's holders there, and only peers of that shard: the other
            // shard's voters are not counted here.
            let shard = elected.donorShards.first ?? settings.shards.shard(of: settings.me)
            let ofThatShard = records.filter { settings.shards.shard(of: $0.writer) == shard }
            elected.donors = StateElection(stateBytes: settings.stateBytes).ballots(from: ofThatShard, now: now.wall).ballots
                .filter { $0.announcement.step == elected.step && $0.announcement.stateHash == elected.hash && $0.announcement.servesState }
                .map { StateDonor(peer: $0.voter, endpoint: $0.announcement.endpoint) }
            // A shard whose totals vote for a state none of its peers serves (its reporters lie,
            // or its holders are in client mode) gives way to the next shard that voted for it.
            elected.donorShards = elected.donors.isEmpty ? Array(elected.donorShards.dropFirst()) : []
            return load(elected, catchUp)
        case (.downloadingElected, .stateLoaded(let loaded)), (.downloadingCheckpoint, .stateLoaded(let loaded)),
             (.replayingElected, .stateLoaded(let loaded)):
            return stateLoaded(loaded, now)
        case (.replayingElected(let catchUp, let elected), .stateReplayFailed(let reason)):
            phase = .catchingUp(.downloadingElected(catchUp))
            return [.note(.stateReplayFailed(fromStep: step, toStep: elected.step, reason: reason)),
                    .downloadState(step: elected.step, hash: elected.hash, donors: elected.donors)]
        case (.downloadingElected(let catchUp), .stateDownloadFailed(let reason)):
            // Donors step on (they keep two snapshots) and leave; the checkpoint may still do,
            // and the next look at the run's progress tries again.
            phase = .catchingUp(.readingCheckpoint(catchUp))
            return [.note(.stateDownloadFailed(step: step, reason: reason)), .readCheckpoint]
        case (.readingCheckpoint(var catchUp), .checkpointRead(let records)):
            var directives: [Directive] = []
            if let checkpoint = coordinatorCheckpoint(in: records, notes: &directives), checkpoint.step > step {
                catchUp.attempted = true
                phase = .catchingUp(.downloadingCheckpoint(catchUp))
                let donor = StateDonor(peer: settings.coordinator, endpoint: checkpoint.endpoint)
                return directives + [.note(.goingOnFromCheckpoint(step: checkpoint.step)),
                                     .downloadState(step: checkpoint.step, hash: checkpoint.stateHash, donors: [donor])]
            }
            return directives + finishCatchUp(catchUp, now)
        case (.downloadingCheckpoint(let catchUp), .stateDownloadFailed(let reason)):
            return [.note(.stateDownloadFailed(step: step, reason: reason))] + finishCatchUp(catchUp, now)
        default:
            preconditionFailure("event \(event) does not answer the catch-up's \(stage)")
        }
    }

    /// Waits for the run's next state after a round this peer was left out of: its group steps
    /// without it, and the sooner it loads the state they reach, the likelier it is counted in
    /// their next group, which in a run of short rounds gathers right after they step. Waiting
    /// for the next progress read instead costs a round or more every time, so that a joiner
    /// landing while a group forms lands while the next one forms too, and never averages.
    /// Gives up when the group has had its whole round (`averagingTimeout`, and the gathering
    /// window it may have formed before this peer knew it was left out: a round that runs to
    /// its timeout still announces its state), excludes `suspects` (the group's members) from
    /// its next groups, and trains on.
    mutating func awaitNewerState(after suspects: [PeerID], _ now: Now) -> [Directive] {
        let wait = suspects.isEmpty ? settings.averagingTimeout : settings.averagingTimeout + settings.gatherWindow
        phase = .catchingUp(.awaitingNewerState(CatchUp(force: false, mayJoinLate: true), deadline: now.monotonic + wait,
                                                suspects: suspects))
        return readRunsStateAgain()
    }

    /// The reads that tell whether the run's state moved on: its announcements, and in a run of
    /// several shards first the shard totals, whose state votes are where the other shards'
    /// new state shows (a background progress read still out answers for that read).
    private mutating func readRunsStateAgain() -> [Directive] {
        guard settings.shards.isSharded else { return [.readStateAnnouncements] }
        guard !progressReadInFlight else {
            progressReadInFlight = false
            return [.awaitProgressRead]
        }
        return [.readProgress]
    }

    /// Replays the updates to `elected` when it is few enough steps ahead, else downloads it;
    /// first reads its donors in the shard that holds it when none of this peer's shard does.
    private mutating func load(_ elected: ElectedState, _ catchUp: CatchUp) -> [Directive] {
        var catchUp = catchUp
        catchUp.attempted = true
        if elected.donors.isEmpty, let shard = elected.donorShards.first {
            phase = .catchingUp(.readingDonors(catchUp, elected))
            return [.readDonors(shard: shard)]
        }
        if canReplay(to: elected) {
            // The replay overwrites the gradient arena: what was accumulated is lost, as it is
            // when a download replaces the state, and the trainer starts from the state replayed.
            accumulatedSamples = 0
            phase = .catchingUp(.replayingElected(catchUp, elected))
            return [.discardGradients, .replayUpdates(fromStep: step, fromHash: announcedHash, toStep: elected.step, toHash: elected.hash,
                                   donors: elected.donors)]
        }
        phase = .catchingUp(.downloadingElected(catchUp))
        return [.downloadState(step: elected.step, hash: elected.hash, donors: elected.donors)]
    }

    /// Whether this peer replays the updates from its state to `elected` instead of downloading
    /// it: the elected state is at most `replayableSteps` ahead, and this peer announced the
    /// state it holds (a chain is asked for from a state by its hash). A state no donor's chain
    /// starts from (one this peer stepped to alone) fails the replay at the first request, and
    /// the download follows.
    func canReplay(to elected: ElectedState) -> Bool {
        elected.step > step && elected.step - step <= min(settings.replayableSteps, UpdateChain.maxLength) && !announcedHash.isEmpty
            && !elected.donors.isEmpty
    }

    private mutating func finishCatchUp(_ catchUp: CatchUp, _ now: Now) -> [Directive] {
        if !catchUp.attempted && step == 0 {
            phase = .announcing(.train)
            return [.announceState]
        }
        return trainOrLeave(now)
    }

    /// The trainer holds the downloaded or replayed state of `loaded`: announce it, then
    /// publish the progress at the new step and train.
    mutating func stateLoaded(_ loaded: Int, _ now: Now) -> [Directive] {
        step = loaded
        accumulatedSamples = 0
        lineage.forget()
        // Who held this peer's rounds up was judged from the state it left: start afresh.
        excludedPeers = [:]
        phase = .announcing(.trainOnLoadedState)
        return [.note(.stateLoaded(step: loaded)), .announceState]
    }

    /// Remembers the run's progress records (those of this peer's shard) and the other shards'
    /// totals it believes: who takes part now votes on its state.
    mutating func rememberProgress(_ records: [OwnedRecord<PeerProgress>], totals: [OwnedRecord<ShardTotal>], _ now: Now) {
        guard settings.shards.isSharded else {
            lastProgress = (records, [], now.wall)
            return
        }
        // Anyone can write under any shard's key; only the shard's own peers count there, or
        // identities of low id written into every shard would silence every shard's reporters.
        let ownShard = settings.shards.shard(of: settings.me)
        let chosen = ShardTotals.chosen(from: totals, shards: settings.shards, ownShard: ownShard, tracker: progressTracker, now: now.wall)
        lastProgress = (records.filter { settings.shards.shard(of: $0.writer) == ownShard }, chosen, now.wall)
    }

    /// Whether this peer is one of its shard's reporters: among the lowest live ids of the
    /// shard's records it read last, itself counted.
    var isShardReporter: Bool {
        guard settings.shards.isSharded else { return false }
        let tracker = progressTracker
        let others = lastProgress.records.filter { $0.writer != settings.me && tracker.isLive($0.value, now: lastProgress.wall) }
        return others.filter { $0.writer < settings.me }.count < RunShards.reportersPerShard
    }

    /// The peers whose progress records said, at the last read, that they take part (this one
    /// included): the voters on the run's state.
    var liveVoters: Set<PeerID> {
        let tracker = progressTracker
        let live = lastProgress.records.filter { tracker.isLive($0.value, now: lastProgress.wall) }
        return Set(live.map(\.writer)).union([settings.me])
    }

    /// The votes among the run's state announcements (this peer's shard's), and notes and
    /// offence reports for the announcements refused; in a run of several shards, what they
    /// say is kept for this peer's shard total (`tallyShardStates`).
    mutating func ballots(in records: [OwnedRecord<StateAnnouncement>], _ now: Now) -> (notes: [Directive], ballots: [StateElection.Ballot]) {
        let ownShard = settings.shards.shard(of: settings.me)
        let ofThisShard = settings.shards.isSharded ? records.filter { settings.shards.shard(of: $0.writer) == ownShard } : records
        let (ballots, refused) = StateElection(stateBytes: settings.stateBytes).ballots(from: ofThisShard, now: now.wall)
        tallyShardStates(ballots)
        var notes: [Directive] = []
        for refusal in refused {
            notes.append(.note(.ignoredStateAnnouncement(refusal)))
            if refusal.isOffence { notes.append(.reportOffence(refusal.writer, Offence(.falseClaim, refusal.reason))) }
        }
        return (notes, ballots)
    }

    /// The state the live voters elect, this peer's own vote (its current state) included,
    /// among the announcements of `step` only when given.
    func electedState(_ ballots: [StateElection.Ballot], step onlyStep: Int?) -> ElectedState? {
        if settings.shards.isSharded { return shardedElectedState(ballots, step: onlyStep) }
        let own = StateElection.Ballot(voter: settings.me, announcement: StateAnnouncement(
            step: step, stateHash: announcedHash, stateBytes: settings.stateBytes, host: "", port: 0, timestampMilliseconds: 0))
        let others = ballots.filter { $0.voter != settings.me && (onlyStep == nil || $0.announcement.step == onlyStep) }
        guard let winner = StateElection.winner(of: [own] + others, voters: liveVoters) else { return nil }
        return ElectedState(step: winner.step, hash: winner.hash, voters: winner.voters,
                            donors: winner.donors.map { StateDonor(peer: $0.0, endpoint: $0.1) })
    }

    /// The checkpoint the coordinator announces and serves, if any. One whose size is not this
    /// run's state is ignored (noted): a peer that cannot use it still starts afresh.
    private func coordinatorCheckpoint(in records: [OwnedRecord<StateAnnouncement>], notes: inout [Directive]) -> StateAnnouncement? {
        guard let newest = records.filter({ $0.writer == settings.coordinator }).map(\.value)
            .filter(\.servesState).max(by: { $0.step < $1.step }) else { return nil }
        guard newest.stateBytes == settings.stateBytes else {
            notes.append(.note(.ignoredCheckpoint(step: newest.step, stateBytes: newest.stateBytes, expected: settings.stateBytes)))
            return nil
        }
        return newest
    }
}
