import CohortBase
import Averaging
import DHT
import Wire

extension VolunteerSession {
    /// A micro-batch is in: train on, or look at the run once `progressInterval` has passed
    /// since the last publication or once the run's batch looks complete.
    ///
    /// The run's batch is what the run says it is: a peer whose projection of the run's count
    /// (the last progress read, extrapolated, with its own exact count) reaches the target stops
    /// training and waits for the read that decides, instead of training through the progress
    /// interval and overshooting the target by every peer's half second of samples.
    mutating func onTrained(samples: Int, seconds: Double, loss: Double, _ now: Now) -> [Directive] {
        measureResumeDelay(microBatchSeconds: seconds, now)
        accumulatedSamples += samples
        lastMicroBatchSeconds = max(0, seconds)
        throughput.record(samples: samples, seconds: seconds)
        windowLoss += loss * Double(samples)
        windowSamples += samples
        let complete = batchLooksComplete(now)
        if progressReadInFlight {
            return complete ? [.awaitProgressRead] : trainOrLeave(now)
        }
        if let last = lastPublished, now.monotonic - last < settings.progressInterval, !complete {
            return trainOrLeave(now)
        }
        lastPublished = now.monotonic
        if now.monotonic >= nextReconnect {
            return [.checkStillAdmitted, .rejoinIfIsolated]
        }
        return [.checkStillAdmitted] + publishAndReadProgress(now, batchLooksComplete: complete)
    }

    /// The first micro-batch after a group round started `resumeDelay` after the round's end.
    private mutating func measureResumeDelay(microBatchSeconds seconds: Double, _ now: Now) {
        guard let round = lastRound, !round.resumeMeasured else { return }
        lastRound?.resumeMeasured = true
        let delay = (now.monotonic - round.endedAt) - .seconds(max(0, seconds))
        resumeDelay = min(max(.zero, delay), settings.progressInterval)
    }

    /// The run's progress at `now` as the last progress read, extrapolated, and this peer's own
    /// count project it. The shell may use it to train up to where the batch looks complete
    /// before it hands back a `trained` (the simulator does, to keep its events few).
    public func projectedRunProgress(at now: Now) -> GlobalProgress {
        progressTracker.globalProgress(of: runProgress(othersIn: lastProgress.records, now), otherShards: runTotals(),
                                       now: now.wall)
    }

    /// Whether the run's batch for this peer's step looks complete by the projection.
    func batchLooksComplete(_ now: Now) -> Bool {
        let projected = projectedRunProgress(at: now)
        return projected.step == step && isComplete(projected)
    }

    /// Whether `progress` is as close to the target as the run gets: at it, or short of it by
    /// less than half of what the run adds while this peer trains one more micro-batch. Every
    /// peer stops within a micro-batch of the target, so stopping only past it would overshoot
    /// by about half a micro-batch per peer on average.
    func isComplete(_ progress: GlobalProgress) -> Bool {
        let shortfall = Double(progress.targetBatchSize - progress.samplesAccumulated)
        return progress.isTargetReached || shortfall < progress.samplesPerSecond * lastMicroBatchSeconds / 2
    }

    /// The run's progress records as they bear on this peer's step: its own replaced by its
    /// exact count at `now` (the stored one lags: stores are not waited for), and the other
    /// members of its last round, while their records still show the step they averaged at or
    /// an earlier one, moved to the new step from the round's end at their last rate. Members
    /// step together, and their new records may not have landed when this peer read (reads
    /// follow rounds closely when rounds are short); counted at an old step they would hold the
    /// run's step back and nobody would see the new batch fill until the next read.
    func runProgress(othersIn records: [OwnedRecord<PeerProgress>], _ now: Now) -> [PeerProgress] {
        let others = records.filter { $0.writer != settings.me }.map { record -> PeerProgress in
            guard let lastRound, lastRound.step + 1 == step, record.value.step <= lastRound.step,
                  lastRound.otherMembers.contains(record.writer) else { return record.value }
            var progress = record.value
            progress.step = step
            progress.samplesAccumulated = 0
            progress.timestampMilliseconds = lastRound.endedAtMilliseconds + UInt64(resumeDelay / .milliseconds(1))
            return progress
        }
        return others + [ownProgress(now)]
    }

    /// The other shards' totals as they bear on this peer's step: a total written before this
    /// peer's last round ended counts the peers it lists at the round's step at the next one,
    /// from the round's end on, as `runProgress` moves the round's members. Every peer at a step
    /// takes it together, so a total that still lists them there is one written before the
    /// round; counted at the old step, they would hold the run's step back until the shard's
    /// reporter writes again.
    func runTotals() -> [ShardTotal] {
        guard let lastRound, lastRound.step + 1 == step else { return lastProgress.totals }
        let resumed = lastRound.endedAtMilliseconds + UInt64(resumeDelay / .milliseconds(1))
        return lastProgress.totals.map { total in
            guard total.timestampMilliseconds < resumed, let old = total.steps.firstIndex(where: { $0.step == lastRound.step }) else {
                return total
            }
            var moved = total
            let stepped = moved.steps.remove(at: old)
            if let new = moved.steps.firstIndex(where: { $0.step == step }) {
                moved.steps[new].peers += stepped.peers
                moved.steps[new].samplesPerSecond += stepped.samplesPerSecond
            } else {
                moved.steps.insert(.init(step: step, peers: stepped.peers, recentPeers: 0, samples: 0,
                                         samplesPerSecond: stepped.samplesPerSecond), at: 0)
            }
            moved.timestampMilliseconds = resumed
            return moved
        }
    }

    /// When every contact is gone (the network was lost), the shell joined again through the
    /// join addresses; pauses between failed attempts grow, and training goes on meanwhile.
    mutating func onConnectivityChecked(_ connectivity: Connectivity, _ now: Now) -> [Directive] {
        var notes: [Directive] = []
        switch connectivity {
        case .connected:
            break
        case .rejoined(let contacts):
            reconnectDelay = .seconds(1)
            notes.append(.note(.rejoined(contacts: contacts)))
        case .isolated:
            notes.append(.note(.isolated(retryInSeconds: Int(reconnectDelay / .seconds(1)))))
            nextReconnect = now.monotonic + reconnectDelay
            reconnectDelay = min(reconnectDelay * 2, settings.maxReconnectDelay)
        }
        return notes + publishAndReadProgress(now, batchLooksComplete: batchLooksComplete(now))
    }

    /// Publishes progress and reads the run's: in the background while training goes on, or,
    /// when the batch looks complete, waiting for the answer.
    private mutating func publishAndReadProgress(_ now: Now, batchLooksComplete complete: Bool) -> [Directive] {
        let publish = progressPublications(now)
        if complete {
            return publish + [.readProgress]
        }
        progressReadInFlight = true
        return publish + [.readProgressWhileTraining] + trainOrLeave(now)
    }

    /// This peer's progress record and, when it is one of its shard's reporters, its shard's
    /// total: wherever a peer tells the run where it is, its shard's total follows, or the
    /// other shards would count it where it was (a reporter in a round publishes nothing else).
    func progressPublications(_ now: Now) -> [Directive] {
        var publications = [Directive.publishProgress(ownProgress(now), lifetime: settings.progressLifetime)]
        if isShardReporter, var total = progressTracker.shardTotal(
            of: runProgress(othersIn: lastProgress.records, now), shard: settings.shards.shard(of: settings.me), now: now.wall) {
            // Announcements are read once a step, peers counted at every publication: a state
            // cannot have more voters than the shard has live peers now.
            total.states = stateTallies.map { .init(step: $0.step, hash: $0.hash, voters: min($0.voters, total.peers)) }
            publications.append(.publishShardTotal(total, lifetime: settings.progressLifetime))
        }
        return publications
    }

    /// The run's progress is in: catch up when behind, check the state and average when the
    /// global batch is complete, else train on.
    mutating func onProgressRead(_ records: [OwnedRecord<PeerProgress>], totals: [OwnedRecord<ShardTotal>], _ now: Now) -> [Directive] {
        progressReadInFlight = false
        rememberProgress(records, totals: totals, now)
        let global = projectedRunProgress(at: now)
        if global.step > step {
            return [.note(.behindTheRun(ownStep: step, runStep: global.step))]
                + beginCatchUp(force: true, progressKnown: true, mayJoinLate: global.step == step + 1)
        }
        // A peer that has not trained on its state yet (it just loaded it) brings samples to
        // its round first.
        if isComplete(global) && accumulatedSamples > 0 {
            phase = .checkingAgreement(expectedPeers: global.expectedGroupSize)
            return [.readStateAnnouncements]
        }
        return trainOrLeave(now)
    }
}

/// Samples per second over the recent micro-batches.
struct Throughput: Sendable {
    private var samples = 0.0
    private var seconds = 0.0

    mutating func record(samples count: Int, seconds elapsed: Double) {
        // Exponential forgetting keeps the estimate current without storing a window.
        samples = samples * 0.8 + Double(count)
        seconds = seconds * 0.8 + elapsed
    }

    var samplesPerSecond: Double { seconds > 0 ? samples / seconds : 0 }
}
