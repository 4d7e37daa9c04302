import CohortBase
import Averaging
import Collaboration
import DHT
import Node
import Wire

/// What the coordinator does each poll — read the run, show it, journal the finished rounds,
/// back up the elected state, keep its records alive — as a pure state machine, like
/// `VolunteerSession` for a volunteer. `RunCoordinator` is the shell: it executes the
/// directives on the DHT, the journal and the checkpoint folder and answers with events; the
/// session never touches the network, a file or a clock.
///
/// One poll: publish the revocations (and the run config when it is due), read the progress and
/// state records, show them, journal every round from the next unjournaled step up to the
/// run's step from the members' reports, back up the elected state every `checkpointEvery`
/// steps, announce the served checkpoint when it changed or is due, sleep until the next poll.
public struct CoordinatorSession: Sendable {
    /// The same two clocks a volunteer's session takes: monotonic for its own deadlines,
    /// wall-clock milliseconds for what it compares with the peers' records.
    public typealias Now = VolunteerSession.Now

    public struct Settings: Sendable {
        public var targetBatchSize: Int
        /// Tokens per sequence, for the peers' bytes per token.
        public var contextLength = 1
        /// Bytes of the run's state: announcements of another size are refused.
        public var stateBytes: Int
        /// Back up the model every this many steps.
        public var checkpointEvery: Int
        public var pollInterval: Duration = .seconds(1)
        /// Progress records older than this belong to peers that left without a goodbye.
        public var staleAfter = RunTimings.progressStaleAfter
        /// How long to wait for the reports of a round nobody reported before noting the gap.
        public var missingReportsGrace: Duration = .seconds(10)
        /// After a failed backup, wait this long before asking the peers again.
        public var backupRetry: Duration = .seconds(15)
        /// Publish the run config and announce the checkpoint at least this often, so that the
        /// records outlive any gap.
        public var republishInterval = RunTimings.coordinatorRepublishInterval

        public init(targetBatchSize: Int, stateBytes: Int, checkpointEvery: Int) {
            self.targetBatchSize = targetBatchSize
            self.stateBytes = stateBytes
            self.checkpointEvery = checkpointEvery
        }
    }

    /// Where the coordinator starts from: what its journal and checkpoint folder hold.
    public struct Start: Sendable {
        /// The first step the journal has no round for.
        public var nextStep: Int
        public var lastCheckpointStep: Int?
        /// The newest checkpoint, when it is served.
        public var servedCheckpoint: StateAnnouncement?

        public init(nextStep: Int, lastCheckpointStep: Int?, servedCheckpoint: StateAnnouncement?) {
            self.nextStep = nextStep
            self.lastCheckpointStep = lastCheckpointStep
            self.servedCheckpoint = servedCheckpoint
        }
    }

    enum Phase: Sendable {
        case starting
        case readingRun
        /// Journaling rounds up to `runStep`; `elected` is backed up afterwards.
        case recording(Poll)
        case backingUp(Poll)
        case announcing
        case sleeping
    }

    /// What a poll read that its later stages use.
    struct Poll: Sendable {
        var runStep: Int
        var elected: CheckpointSource?
        /// The live peers' summed throughput, recorded with each round journaled.
        var samplesPerSecond: Double
    }

    public let settings: Settings
    /// The first step the journal has no round for.
    public private(set) var nextStep = 0
    public private(set) var lastCheckpointStep: Int?
    /// Steps at which the live peers announced more than one state.
    public private(set) var mismatchedSteps = Set<Int>()
    var phase = Phase.starting
    var pollStarted = MonotonicInstant.zero
    var missingReportsSince: MonotonicInstant?
    var lastConfigPublish: MonotonicInstant?
    var nextBackupAttempt = MonotonicInstant(nanoseconds: .min)
    var checkpointAnnouncement: StateAnnouncement?
    var lastCheckpointAnnounce: MonotonicInstant?

    public init(settings: Settings) {
        precondition(settings.targetBatchSize > 0 && settings.stateBytes > 0 && settings.checkpointEvery > 0,
                     "a run has a target batch, a state and a checkpoint interval")
        self.settings = settings
    }

    public mutating func start(_ start: Start, at now: Now) -> [Directive] {
        guard case .starting = phase else { preconditionFailure("a coordinator session starts once") }
        nextStep = start.nextStep
        lastCheckpointStep = start.lastCheckpointStep
        checkpointAnnouncement = start.servedCheckpoint
        return beginPoll(now)
    }

    /// Takes the answer to the directive the session waits on.
    public mutating func handle(_ event: Event, at now: Now) -> [Directive] {
        switch (phase, event) {
        case (.sleeping, .woke):
            return beginPoll(now)
        case (.readingRun, .runRead(let progress, let state, let banned)):
            return runRead(progress: progress, state: state, banned: banned, now)
        case (.recording(let poll), .roundReportsRead(let step, let reports)) where step == nextStep:
            return reportsRead(reports, poll: poll, now)
        case (.recording(let poll), .journaled):
            missingReportsSince = nil
            nextStep += 1
            return recordRounds(poll, now)
        case (.recording(let poll), .journalFailed(let reason)):
            // The step stays unjournaled: the next poll tries it again.
            return [.note(.journalFailed(reason: reason))] + backUp(poll, now)
        case (.backingUp, .checkpointSaved(let announcement)):
            lastCheckpointStep = announcement.step
            checkpointAnnouncement = announcement
            lastCheckpointAnnounce = nil
            return announce(now)
        case (.backingUp, .checkpointFailed(let reason)):
            nextBackupAttempt = now.monotonic + settings.backupRetry
            return [.note(.checkpointFailed(reason: reason, retryInSeconds: Int(settings.backupRetry / .seconds(1))))] + announce(now)
        case (.announcing, .checkpointAnnounced):
            lastCheckpointAnnounce = now.monotonic
            return sleep()
        case (.announcing, .checkpointAnnounceFailed(let reason)):
            return [.note(.checkpointAnnounceFailed(reason: reason))] + sleep()
        default:
            preconditionFailure("event \(event) does not answer what the coordinator's session waits for in \(phase)")
        }
    }

    private mutating func beginPoll(_ now: Now) -> [Directive] {
        pollStarted = now.monotonic
        phase = .readingRun
        var directives: [Directive] = [.publishRevocations]
        if lastConfigPublish.map({ now.monotonic - $0 >= settings.republishInterval }) ?? true {
            lastConfigPublish = now.monotonic
            directives.append(.publishConfig)
        }
        return directives + [.readRun]
    }

    private mutating func runRead(progress records: [OwnedRecord<PeerProgress>], state: [OwnedRecord<StateAnnouncement>],
                                  banned: [PeerID], _ now: Now) -> [Directive] {
        var tracker = ProgressTracker(targetBatchSize: settings.targetBatchSize)
        tracker.staleAfter = settings.staleAfter
        let live = records.filter { tracker.isLive($0.value, now: now.wall) }
        let (ballots, refused) = StateElection(stateBytes: settings.stateBytes).ballots(from: state, now: now.wall)
        var directives: [Directive] = []
        for refusal in refused where refusal.isOffence {
            directives += [.note(.refusedStateAnnouncement(refusal)), .reportOffence(refusal.writer, Offence(.falseClaim, refusal.reason))]
        }
        let voters = Set(live.map(\.writer))
        let announcements = ballots.filter { voters.contains($0.voter) }.map(\.announcement)
        let serving = announcements.filter(\.servesState).map(\.endpoint)
        if !serving.isEmpty { directives.append(.rememberServingPeers(serving)) }
        // The run's step as the peers see it (`ProgressTracker`): one peer's claim of a far step
        // must not make the journal wait for rounds nobody will report.
        let runStep = ProgressTracker.runStep(reachedBy: live.map(\.value.step))
        if runStep > 0, Set(announcements.filter { $0.step == runStep }.map(\.stateHash)).count > 1 {
            mismatchedSteps.insert(runStep)
        }
        let peers = live.map { record in
            var peer = CoordinatorStatus.Peer(
                id: record.writer.shortDescription, step: record.value.step, samplesAccumulated: record.value.samplesAccumulated,
                samplesPerSecond: record.value.samplesPerSecond, loss: record.value.loss, clientMode: record.value.clientMode,
                secondsSinceUpdate: Double(now.wall.millisecondsSinceEpoch.saturatingSubtract(record.value.timestampMilliseconds)) / 1000)
            if let activity = record.value.activity {
                peer.utilisation = activity.utilisation
                peer.bytesPerToken = activity.bytesPerToken(contextLength: settings.contextLength)
                peer.stepsInLastRound = Int(activity.stepsInLastRound)
            }
            return peer
        }
        directives.append(.showProgress(ProgressView(
            peers: peers.sorted { $0.id < $1.id }, step: runStep,
            samplesAccumulated: peers.filter { $0.step == runStep }.map(\.samplesAccumulated).reduce(0, +),
            hashMismatches: mismatchedSteps.count, bannedPeers: banned.map(\.bytes.hexString).sorted())))
        let elected = StateElection.winner(of: ballots, voters: voters).map { winner in
            CheckpointSource(step: winner.step, hash: winner.hash, stateBytes: winner.stateBytes,
                             donors: winner.donors.map { VolunteerSession.StateDonor(peer: $0.0, endpoint: $0.1) })
        }
        let rate = peers.map(\.samplesPerSecond).reduce(0, +)
        return directives + recordRounds(Poll(runStep: runStep, elected: elected, samplesPerSecond: rate), now)
    }

    /// Journals the next finished round, or goes on to the backup once none is left.
    private mutating func recordRounds(_ poll: Poll, _ now: Now) -> [Directive] {
        guard nextStep < poll.runStep else { return backUp(poll, now) }
        phase = .recording(poll)
        return [.readRoundReports(step: nextStep)]
    }

    private mutating func reportsRead(_ records: [OwnedRecord<RoundReport>], poll: Poll, _ now: Now) -> [Directive] {
        let reports = records.map(\.value)
        guard !reports.isEmpty else {
            // A round nobody reported (it expired while the coordinator was away): wait a
            // little for late reports, then note the gap and move on.
            let since = missingReportsSince ?? now.monotonic
            missingReportsSince = since
            guard now.monotonic - since > settings.missingReportsGrace else { return backUp(poll, now) }
            return [.journal(CoordinatorStatus.Round(
                step: nextStep, members: 0, samples: 0, durationSeconds: 0, loss: .nan, samplesPerSecond: 0, bytesSent: 0,
                bytesReceived: 0, failedParts: 0, note: "no member's report was found", recordedAtMilliseconds: now.wall.millisecondsSinceEpoch))]
        }
        let losses = reports.map(\.loss).filter(\.isFinite)
        return [.journal(CoordinatorStatus.Round(
            step: nextStep, members: reports.map(\.members).max() ?? 0, samples: reports.map(\.samples).max() ?? 0,
            durationSeconds: reports.map(\.durationSeconds).max() ?? 0,
            loss: losses.isEmpty ? .nan : losses.reduce(0, +) / Double(losses.count), samplesPerSecond: poll.samplesPerSecond,
            bytesSent: reports.map(\.bytesSent).reduce(0, +), bytesReceived: reports.map(\.bytesReceived).reduce(0, +),
            failedParts: reports.map(\.failedParts).max() ?? 0, note: reports.map(\.note).first { !$0.isEmpty } ?? "",
            recordedAtMilliseconds: now.wall.millisecondsSinceEpoch))]
    }

    /// Every `checkpointEvery` steps, backs up the state the live peers elect.
    private mutating func backUp(_ poll: Poll, _ now: Now) -> [Directive] {
        let last = lastCheckpointStep ?? 0
        guard poll.runStep > 0, poll.runStep >= last + settings.checkpointEvery, now.monotonic >= nextBackupAttempt,
              let source = poll.elected, source.step > last, !source.donors.isEmpty else { return announce(now) }
        phase = .backingUp(poll)
        return [.backUp(source)]
    }

    /// Announces the served checkpoint when it changed, and every `republishInterval`.
    private mutating func announce(_ now: Now) -> [Directive] {
        guard var announcement = checkpointAnnouncement,
              lastCheckpointAnnounce.map({ now.monotonic - $0 >= settings.republishInterval }) ?? true else { return sleep() }
        phase = .announcing
        announcement.timestampMilliseconds = now.wall.millisecondsSinceEpoch
        return [.announceCheckpoint(announcement)]
    }

    private mutating func sleep() -> [Directive] {
        phase = .sleeping
        return [.sleep(until: pollStarted + settings.pollInterval)]
    }
}
