import CohortBase
import Averaging
import DHT
import Wire

extension VolunteerSession {
    /// The run's batch is complete: form a group through DHT records (declarations under the
    /// step's key, the leader's plan under the plan key, so that members in client mode
    /// receive it too). `expectedPeers` (from the progress records) lets the group form as
    /// soon as they declared.
    mutating func beginMatchmaking(expectedPeers: Int, _ now: Now) -> [Directive] {
        let key = settings.shards.matchmakingKey(of: peerID, step: step, stateHash: announcedHash, runPeers: expectedPeers)
        let round = RoundInProgress(step: step, samples: accumulatedSamples, loss: windowMeanLoss, started: now.monotonic,
                                    stateHash: announcedHash, matchmakingKey: key)
        var matchmakerSettings = Matchmaker.Settings(elementCount: settings.roundElements(atStep: round.step).count)
        matchmakerSettings.expectedGroupSize = key.buckets == 1 ? expectedPeers : peersExpected(inBucketOf: key, runPeers: expectedPeers, now)
        matchmakerSettings.onGrid = settings.shards.isSharded
        matchmakerSettings.gatherWindow = settings.gatherWindow
        matchmakerSettings.planTimeout = settings.planTimeout
        matchmakerSettings.excluded = Set(excludedPeers.keys)
        // Exclusions count down by matchmaking attempts, not steps: a peer whose only company is
        // excluded does not step, and would otherwise wait for good.
        excludedPeers = excludedPeers.compactMapValues { $0 > 1 ? $0 - 1 : nil }
        var matchmaker = Matchmaker(peer: peerID, address: settings.address, clientMode: settings.clientMode,
                                    settings: matchmakerSettings)
        let actions = matchmaker.onReady(step: UInt64(round.step), samples: UInt64(round.samples), bandwidth: announcedBandwidth,
                                         now: now.monotonic)
        var matchmaking = Matchmaking(matchmaker: matchmaker, round: round, wakeAt: now.monotonic + .seconds(1))
        // The pseudo-gradient is taken now, so what the trainer does while the group forms
        // belongs to the next round, as what it does while the round averages does. A late
        // joiner waits: its background replay lands at a `train`, and not while a group forms.
        if settings.trainsWhileAveraging && settings.trainsWhileMatchmaking && lateJoin == nil { matchmaking.carried = CarriedTraining() }
        return [.averageAccumulatedGradients] + follow(actions, in: matchmaking, now)
    }

    /// A micro-batch trained while the group forms: it counts towards the next round. The
    /// matchmaker's deadline is checked between micro-batches, unless a read is out: as when
    /// the peer waits, the matchmaker decides on what the read brings, not before it comes.
    /// When reads take longer than the gathering window (slow links), deciding first would
    /// have the peer step alone while its group's declarations are on their way.
    mutating func trainedWhileMatchmaking(_ matchmaking: consuming Matchmaking, samples: Int, seconds: Double, loss: Double,
                                          _ now: Now) -> [Directive] {
        var matchmaking = matchmaking
        matchmaking.carried?.samples += samples
        matchmaking.carried?.lossSum += loss * Double(samples)
        lastMicroBatchSeconds = max(0, seconds)
        throughput.record(samples: samples, seconds: seconds)
        guard now.monotonic >= matchmaking.wakeAt, !matchmaking.readInFlight else { return follow([], in: matchmaking, now) }
        return follow(matchmaking.matchmaker.onDeadline(now: now.monotonic), in: matchmaking, now)
    }

    mutating func matchmakingWoke(_ matchmaking: consuming Matchmaking, _ now: Now) -> [Directive] {
        guard now.monotonic >= matchmaking.wakeAt else {
            phase = .matchmaking(matchmaking)
            return [.readMatchmaking(matchmaking.round.matchmakingKey)]
        }
        var matchmaking = matchmaking
        let actions = matchmaking.matchmaker.onDeadline(now: now.monotonic)
        return follow(actions, in: matchmaking, now)
    }

    mutating func matchmakingRead(_ matchmaking: consuming Matchmaking, plans: [OwnedRecord<GroupPlan>], declarations: [OwnedRecord<Declaration>],
                                  _ now: Now) -> [Directive] {
        var matchmaking = matchmaking
        matchmaking.readInFlight = false
        var actions: [Matchmaker.Action] = []
        // Plans first: peers already in another leader's plan must not count as candidates.
        for plan in plans {
            actions += matchmaking.matchmaker.onPlan(plan.value, from: plan.writer, now: now.monotonic)
        }
        // A declaration speaks for the peer it names: only that peer's own record counts, or
        // anyone could declare absent peers with the lowest ids and stall every round on a
        // leader that never answers. And only a peer of the bucket's shards counts in a bucket,
        // or one identity of low id declaring in every bucket would lead every group.
        let key = matchmaking.round.matchmakingKey
        let declared = declarations.compactMap { record in
            record.value.peer == record.writer && settings.shards.shard(of: record.writer) % key.buckets == key.bucket ? record.value : nil
        }
        actions += matchmaking.matchmaker.onDeclarationsSeen(declared, now: now.monotonic)
        // Training, the peer put off a deadline that passed while this read was out: it is due
        // now, before the next read goes out.
        if matchmaking.carried != nil, now.monotonic >= matchmaking.wakeAt {
            actions += matchmaking.matchmaker.onDeadline(now: now.monotonic)
        }
        return follow(actions, in: matchmaking, now)
    }

    /// The peers of this peer's bucket expected at the step: its own shard's and the bucket's
    /// other shards' by their totals, counted as the run is. Shards hold as many peers as ids
    /// fall in them, so an even share of the run would have the leader of a fuller bucket fix
    /// its group before all had declared, and one of an emptier bucket wait out the window.
    /// The even share where the bucket's count is of another step than this peer's.
    private func peersExpected(inBucketOf key: MatchmakingKey, runPeers: Int, _ now: Now) -> Int {
        let bucketTotals = runTotals().filter { $0.shard % key.buckets == key.bucket }
        let bucket = progressTracker.globalProgress(of: runProgress(othersIn: lastProgress.records, now), otherShards: bucketTotals,
                                                    now: now.wall)
        return bucket.step == key.step ? bucket.expectedGroupSize : (runPeers + key.buckets - 1) / key.buckets
    }

    /// Turns the matchmaker's actions into directives; sleeps until the next poll (or trains,
    /// reading in the background) unless the group formed or failed.
    private mutating func follow(_ actions: [Matchmaker.Action], in matchmaking: consuming Matchmaking, _ now: Now) -> [Directive] {
        var matchmaking = matchmaking
        var directives: [Directive] = []
        let round = matchmaking.round
        // No read is out here: the matchmaker decides on a read's answer, or on a deadline
        // while none is out (`trainedWhileMatchmaking`).
        for action in actions {
            switch action {
            case .publishDeclaration(let declaration):
                directives.append(.publishDeclaration(declaration, round.matchmakingKey))
            case .wake(let time):
                matchmaking.wakeAt = time
            case .sendPlan(let plan, _):
                if !matchmaking.publishedPlan {
                    matchmaking.publishedPlan = true
                    directives.append(.publishPlan(plan, round.matchmakingKey))
                }
            case .groupFormed(let plan):
                excludeSilentLeaders(of: matchmaking.matchmaker)
                return directives + startRound(round, plan: plan, carried: matchmaking.carried)
            case .failed(let failure):
                excludeSilentLeaders(of: matchmaking.matchmaker)
                return directives + formationFailed(round, failure, now, suspects: matchmaking.matchmaker.largestOtherGroupMembers,
                                                    carried: matchmaking.carried)
            }
        }
        guard matchmaking.carried != nil else {
            phase = .matchmaking(matchmaking)
            return directives + [.sleep(until: now.monotonic + settings.matchmakingPoll)]
        }
        if !matchmaking.readInFlight {
            matchmaking.readInFlight = true
            directives.append(.readMatchmakingWhileTraining(round.matchmakingKey))
        }
        phase = .matchmaking(matchmaking)
        return directives + [.train]
    }

    private mutating func excludeSilentLeaders(of matchmaker: Matchmaker) {
        for leader in matchmaker.leadersThatDidNotAnswer { excludedPeers[leader] = settings.exclusionAttempts }
    }

    private mutating func startRound(_ round: RoundInProgress, plan: GroupPlan, carried: CarriedTraining?) -> [Directive] {
        let part = plan.index(of: peerID).map { plan.parts[$0].count } ?? 0
        let note = Directive.note(.averaging(step: round.step, peers: plan.members.count, partElements: part,
                                             elementCount: plan.elementCount, bandwidth: announcedBandwidth))
        guard settings.trainsWhileAveraging else {
            phase = .averaging(round)
            return [note, .allReduce(plan)]
        }
        phase = .averagingWhileTraining(round, carried ?? CarriedTraining())
        return [note, .allReduceInBackground(plan), stopRequested ? .awaitRound : .train]
    }

    /// A micro-batch trained while the round averages: it counts towards the next round. A stop
    /// waits for the round, so that its members are not left owing this peer chunks.
    mutating func trainedWhileAveraging(_ round: RoundInProgress, _ carried: CarriedTraining, samples: Int, seconds: Double,
                                        loss: Double) -> [Directive] {
        var carried = carried
        carried.samples += samples
        carried.lossSum += loss * Double(samples)
        lastMicroBatchSeconds = max(0, seconds)
        throughput.record(samples: samples, seconds: seconds)
        phase = .averagingWhileTraining(round, carried)
        return [stopRequested ? .awaitRound : .train]
    }

    /// `suspects`: the members of the group that left this peer out, if one did. `carried`: what
    /// the trainer did while the group formed, on top of the round's pseudo-gradient.
    private mutating func formationFailed(_ round: RoundInProgress, _ failure: FormationFailure, _ now: Now,
                                          suspects: [PeerID] = [], carried: CarriedTraining? = nil) -> [Directive] {
        // The gradients are discarded or applied alone: what was trained during the round goes
        // too, or, applied alone, stays on top of the update for the next round.
        carriedTraining = nil
        // Alone in its bucket is not alone in the run: a peer of a large run that found no one
        // else in its bucket tries the step again, or catches up, rather than step on a branch
        // of its own (1,000 simulated volunteers in 8 shards took 63 steps alone in 3 minutes).
        if case .noOtherPeer = failure, round.matchmakingKey.buckets == 1 {
            guard lateJoin == nil else {
                // A late joiner cannot step alone: its trainer may not hold the state it would step from.
                accumulatedSamples = 0
                return [.discardGradients, withdrawal(of: round)] + reportedRound(round, failure, now) + beginCatchUp(force: true, progressKnown: false)
            }
            // Alone in the run: this peer's batch is the global batch.
            carriedTraining = carried
            phase = .announcing(.reportSteppedAlone(round, failure))
            return [.applyUpdate(skipping: skippedElements(failedParts: [], step: round.step), samples: round.samples), .announceState]
        }
        switch failure {
        case .leftOut, .othersPastTheStep:
            // The run steps on without this peer, which catches up from the state it holds.
            let abandoned = abandonLateJoin()
            if case .leftOut = failure, abandoned.isEmpty, joinsLate {
                // What it trained on the state the group leaves goes into the round after, which
                // it joins late (`joinLate`) once the group's state is announced.
                if let carried {
                    accumulatedSamples += carried.samples
                    windowLoss += carried.lossSum
                    windowSamples += carried.samples
                }
                lastPublished = now.monotonic
                return [withdrawal(of: round)] + reportedRound(round, failure, now)
                    + progressPublications(now) + awaitNewerState(after: suspects, now)
            }
            // What it would train meanwhile, on the state they leave, the catch-up discards.
            accumulatedSamples = 0
            let leftBy: [PeerID] = if case .leftOut = failure { suspects } else { [] }
            return [.discardGradients, withdrawal(of: round)] + reportedRound(round, failure, now) + abandoned + forgetRound(now)
                + awaitNewerState(after: leftBy, now)
        default:
            // Another attempt at the same step; a late join's replay goes on meanwhile.
            accumulatedSamples = 0
            return [.discardGradients] + reportedRound(round, failure, now) + endRound(now)
        }
    }

    /// A peer left out, or finding the others past the step, leaves the step's matchmaking
    /// without taking the step. Its declaration outlives that by minutes, and a peer arriving
    /// later planned a group around peers no longer there, which stepped on a branch of its own
    /// (docs/simulation.md, "What breaks first" 8). A peer stepping alone keeps its declaration:
    /// it tells a later peer at the step that someone took it, and that peer, refused as past
    /// the round, catches up instead of stepping alone on a second branch.
    private func withdrawal(of round: RoundInProgress) -> Directive {
        let withdrawn = Declaration(step: UInt64(round.step), peer: peerID, address: settings.address, bandwidth: 0,
                                    clientMode: settings.clientMode, samples: 0)
        return .withdrawDeclaration(withdrawn, round.matchmakingKey)
    }

    /// The round could not be formed or joined: its failure noted and reported.
    private func reportedRound(_ round: RoundInProgress, _ failure: FormationFailure, _ now: Now) -> [Directive] {
        let report = RoundReport(step: round.step, members: 0, samples: 0, durationSeconds: (now.monotonic - round.started) / .seconds(1),
                                 loss: round.loss, bytesSent: 0, bytesReceived: 0, failedParts: 0, note: failure.description)
        return [.note(.couldNotAverage(step: round.step, reason: failure)), .publishRoundReport(report)]
    }

    mutating func roundFinished(_ round: RoundInProgress, _ result: AllReduceResult, _ now: Now) -> [Directive] {
        for peer in result.silent + result.dropped.map(\.peer) { excludedPeers[peer] = settings.exclusionAttempts }
        let notes = countOutOfBoundAverages(result, step: round.step)
        bandwidth.observe(result)
        if result.participants == [peerID], !result.pastTheRound.isEmpty {
            // Nobody averaged with this peer: the others' state is the run's, and this peer's
            // gradient, applied alone, would fork it.
            return notes + formationFailed(round, .othersPastTheStep(step: UInt64(round.step), count: result.pastTheRound.count), now)
        }
        phase = .announcing(.reportRound(round, result))
        // The step's samples must be the same at every member, or their rates and states part:
        // the plan's, not this member's view of who took part (a sender late at one owner only
        // is left out there alone).
        return notes + [.applyUpdate(skipping: skippedElements(failedParts: result.failedParts, step: round.step),
                                     samples: Int(result.plannedSamples)), .announceState]
    }

    /// The averaging vector's elements the update from `step` leaves unchanged: the round's
    /// failed parts (ranges of the elements it averaged) and, under streaming local SGD, every
    /// element outside the step's fragment.
    func skippedElements(failedParts: [Range<Int>], step: Int) -> [Range<Int>] {
        let offset = settings.roundElements(atStep: step).lowerBound
        let failed = failedParts.map { $0.lowerBound + offset..<$0.upperBound + offset }
        return UpdateHeader.normalisedSkipped(settings.localSGD.elementsOutsideFragment(atStep: step, of: settings.elementCount) + failed)
    }

    /// Counts the owners whose averages failed the norm check and excludes those at the limit.
    private mutating func countOutOfBoundAverages(_ result: AllReduceResult, step: Int) -> [Directive] {
        result.outOfBoundAverages.map { owner in
            let count = outOfBoundAverages[owner, default: 0] + 1
            let excluded = count >= settings.outOfBoundAveragesToExclude
            if excluded {
                excludedPeers[owner] = settings.exclusionAttempts
                outOfBoundAverages[owner] = nil
            } else {
                // Identities are cheap in an open run: keep the count bounded.
                if outOfBoundAverages.count >= Self.maxOwnersCounted { outOfBoundAverages.removeAll() }
                outOfBoundAverages[owner] = count
            }
            return .note(.outOfBoundAverage(step: step, owner: owner, count: count, excluded: excluded))
        }
    }

    static let maxOwnersCounted = 4096

    mutating func afterAnnouncement(_ next: AfterAnnouncement, _ now: Now) -> [Directive] {
        switch next {
        case .train:
            return trainOrLeave(now)
        case .trainOnLoadedState:
            // A loaded state is news to the run: published at once, this peer counts at its new
            // step in the next group the others gather, and reads whether that group gathers
            // already while it trains its first micro-batch, instead of a progress interval
            // later, which in a run of short rounds is a round or more.
            lastPublished = now.monotonic
            progressReadInFlight = true
            return progressPublications(now) + [.readProgressWhileTraining] + trainOrLeave(now)
        case .reportRound(let round, let result):
            let seconds = (now.monotonic - round.started) / .seconds(1)
            let report = RoundReport(
                step: round.step, members: result.participants.count, samples: Int(result.totalSamples), durationSeconds: seconds,
                loss: round.loss, bytesSent: UInt64(result.bytesSent), bytesReceived: UInt64(result.bytesReceived),
                failedParts: result.failedParts.count,
                note: result.failedParts.isEmpty ? "" : "\(result.failedParts.count) part(s) not averaged: skipped by every member")
            let averaged = AveragedRound(step: round.step, peers: result.participants.count, samples: Int(result.totalSamples),
                                         loss: round.loss, stateHash: announcedHash, seconds: seconds,
                                         allReduceSeconds: result.duration / .seconds(1), failedParts: result.failedParts.count,
                                         inboundBytesPerSecond: result.inboundBytesPerSecond)
            let others = Set(result.participants).subtracting([settings.me])
            // Only the members of this peer's shard announce where it reads (`RunShards`).
            let ownShard = settings.shards.shard(of: settings.me)
            let comparable = others.filter { settings.shards.shard(of: $0) == ownShard }
            pendingAgreement = comparable.isEmpty ? nil
                : PendingAgreement(step: step, members: comparable, deadline: now.monotonic + settings.averagingTimeout)
            lastRound = FinishedRound(step: round.step, otherMembers: others, endedAtMilliseconds: now.wall.millisecondsSinceEpoch,
                                      endedAt: now.monotonic)
            return [.publishRoundReport(report), .note(.averaged(averaged))] + endRound(now)
        case .reportSteppedAlone(let round, let failure):
            let report = RoundReport(step: round.step, members: 1, samples: round.samples,
                                     durationSeconds: (now.monotonic - round.started) / .seconds(1), loss: round.loss,
                                     bytesSent: 0, bytesReceived: 0, failedParts: 0, note: failure.description)
            return [.publishRoundReport(report), .note(.steppedAlone(step: round.step, samples: round.samples, reason: failure))]
                + endRound(now)
        }
    }

    /// Tells the others at once that this peer is at its new step, so that their count of
    /// peers to expect in the next group includes it, and trains on.
    private mutating func endRound(_ now: Now) -> [Directive] {
        forgetRound(now) + trainOrLeave(now)
    }

    /// Starts the count of the next batch, from what was trained while the round averaged, and
    /// publishes it.
    private mutating func forgetRound(_ now: Now) -> [Directive] {
        let carried = carriedTraining ?? CarriedTraining()
        carriedTraining = nil
        accumulatedSamples = carried.samples
        windowLoss = carried.lossSum
        windowSamples = carried.samples
        lastPublished = now.monotonic
        return progressPublications(now)
    }
}
