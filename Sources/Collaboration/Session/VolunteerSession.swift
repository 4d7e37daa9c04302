import CohortBase
import Averaging
import DHT
import Trainer
import Wire

/// What a volunteer does in a run — catch up or train, declare, average, reload, leave — as a
/// pure state machine (DESIGN.md "Principles" 1).
///
/// The shell (`PeerSession` in a real peer, the simulator's volunteer in `cohort simulate`)
/// executes the directives the session hands out and answers each waiting one with an event
/// carrying what it read or did; the session never touches the network, the trainer or a
/// clock. The loop it drives (DeDLOC §3):
///
/// 1. Catch up: elect the run's state (`StateElection`, one vote per live peer) and, when it is
///    ahead of ours, replay the updates taken since our state when it is at most
///    `replayableSteps` ahead, else (or when the replay fails) download it; failing that, go
///    on from the coordinator's newer checkpoint.
/// 2. Train micro-batches; every `progressInterval` publish progress and read everyone's
///    (`ProgressTracker`). Behind the run: catch up. The global batch complete: check that our
///    state is the one the run agrees on for the step, then average.
/// 3. Average: gather a group (`Matchmaker` over DHT records), all-reduce the gradients, step,
///    announce the new state, report the round; or step alone when nobody else is there.
public struct VolunteerSession: Sendable {
    public struct Settings: Sendable {
        public var me: PeerID
        public var clientMode: Bool
        /// "host:port" where this peer accepts connections; empty in client mode.
        public var address: String
        /// The coordinator that signed the run config: the one source of checkpoints trusted.
        public var coordinator: PeerID
        /// Elements of the averaging vector (all of it, however much a round averages).
        public var elementCount: Int
        /// Under streaming local SGD, which fragment of the vector each step's round averages.
        public var localSGD = LocalSGDSettings()
        /// Bytes of the run's training state.
        public var stateBytes: Int
        /// Sequences the run trains per round (`RunConfig.samplesPerRound`).
        public var targetBatchSize: Int
        public var gatherWindow: Duration
        public var averagingTimeout: Duration
        public var progressInterval: Duration = .milliseconds(500)
        /// How the run splits its progress records and state announcements (`RunConfig.shards`).
        public var shards = RunShards.one
        /// Progress records older than this belong to peers that left without a goodbye.
        public var staleAfter = RunTimings.progressStaleAfter
        /// How often matchmaking reads the step's plans and declarations.
        public var matchmakingPoll: Duration = .milliseconds(150)
        public var planTimeout: Duration = .seconds(5)
        /// The bandwidth to announce instead of the measured one.
        public var fixedBandwidth: UInt64?
        /// Leave once this step is reached.
        public var stopAfterStep: Int?
        /// Matchmaking attempts for which a peer that held a round up does not count.
        public var exclusionAttempts = 5
        /// Out-of-bound averages from one owner that exclude it (`outOfBoundAverages`).
        public var outOfBoundAveragesToExclude = 2
        public var progressLifetime = RunTimings.progressLifetime
        public var maxReconnectDelay: Duration = .seconds(60)
        /// How many steps behind the run's state a peer replays the updates taken since
        /// (`replayUpdates`) instead of downloading the state: what donors keep, by default
        /// (`cohort peer --replay-updates`). 0 always downloads.
        public var replayableSteps = 4
        /// Train on while the round averages (local SGD's pseudo-gradients have their own
        /// buffer): the samples trained meanwhile count towards the next round.
        public var trainsWhileAveraging = false
        /// Under `trainsWhileAveraging`, a peer the run left one step behind joins the next
        /// round with what it trained while it replays the update it missed in the background
        /// (`joinLate`), instead of replaying first and missing that round too.
        public var joinsLate = false
        /// Under `trainsWhileAveraging`, train on while the group forms too, reading the plans
        /// and declarations in the background (`readMatchmakingWhileTraining`). Off unless the
        /// shell turns it on (`cohort peer` and `cohort simulate` do by default).
        public var trainsWhileMatchmaking = false

        public init(me: PeerID, clientMode: Bool, address: String, coordinator: PeerID, elementCount: Int, stateBytes: Int,
                    targetBatchSize: Int, gatherWindow: Duration, averagingTimeout: Duration) {
            self.me = me
            self.clientMode = clientMode
            self.address = clientMode ? "" : address
            self.coordinator = coordinator
            self.elementCount = elementCount
            self.stateBytes = stateBytes
            self.targetBatchSize = targetBatchSize
            self.gatherWindow = gatherWindow
            self.averagingTimeout = averagingTimeout
        }

        /// The settings `config` gives a run's peer.
        public init(me: PeerID, clientMode: Bool, address: String, coordinator: PeerID, elementCount: Int, stateBytes: Int,
                    config: RunConfig) {
            self.init(me: me, clientMode: clientMode, address: address, coordinator: coordinator, elementCount: elementCount,
                      stateBytes: stateBytes, targetBatchSize: config.samplesPerRound,
                      gatherWindow: .milliseconds(Int64(config.matchmakingSeconds * 1000)),
                      averagingTimeout: .milliseconds(Int64(config.averagingTimeoutSeconds * 1000)))
            localSGD = config.localSGD
            shards = config.shards
        }

        /// The elements of the averaging vector that the round from `step` averages: all of
        /// them, or the step's fragment under streaming local SGD.
        public func roundElements(atStep step: Int) -> Range<Int> {
            localSGD.fragment(atStep: step, of: elementCount)
        }
    }

    public let settings: Settings
    /// The step of the trainer's state, as the shell last reported it.
    public internal(set) var step = 0
    /// Samples accumulated towards the next step.
    public internal(set) var accumulatedSamples = 0
    /// Hash of the state this peer announced last.
    public internal(set) var announcedHash: [UInt8] = []
    /// The states this peer announced since it last loaded one (`checkAgreement`).
    var lineage = StateLineage()
    /// Times this peer found its state was not the agreed one for its step (and reloaded).
    public internal(set) var hashMismatches = 0
    /// Peers that held a round up, with the matchmaking attempts for which their declarations
    /// still do not count: leaders that sent no plan, and members of the last rounds that sent
    /// nothing at all or failed the checks (not members that were merely late: honest
    /// stragglers). A peer that declares and then does nothing would otherwise cost every round
    /// a plan timeout or the sender deadline; this way it costs one.
    public internal(set) var excludedPeers: [PeerID: Int] = [:]
    /// Per owner, averages of its part that failed the norm check since it was last excluded.
    /// One is no proof (a hostile sender can cause it); a second excludes the owner, so that an
    /// owner poisoning its part costs the run two rounds' parts, then nothing for a while.
    public internal(set) var outOfBoundAverages: [PeerID: Int] = [:]
    public internal(set) var hasLeft = false

    var phase = Phase.starting
    var bandwidth = BandwidthEstimator(firstGuess: 100_000_000)
    var throughput = Throughput()
    /// How long this peer's last micro-batch took.
    var lastMicroBatchSeconds = 0.0
    var windowLoss = 0.0
    var windowSamples = 0
    var lastPublished: MonotonicInstant?
    var nextReconnect = MonotonicInstant(nanoseconds: .min)
    var reconnectDelay: Duration = .seconds(1)
    /// How long this peer took from its last group round's end to its first micro-batch after
    /// it: the round report's store, which the shell waits for. The other members wait for
    /// theirs too, so they are counted as training from their round's end plus this
    /// (`runProgress`); counted from the end itself, every member's projection ran ahead of the
    /// others' real counts and their rounds stopped short of the batch.
    var resumeDelay = Duration.zero
    /// In a run of several shards, the states the live peers of this peer's shard held at its
    /// last read of the shard's announcements: what its shard total says of them.
    var stateTallies: [ShardTotal.StateTally] = []
    /// The last round, until its members' states have been compared.
    var pendingAgreement: PendingAgreement?
    /// The progress records of this peer's shard read last, the other shards' totals believed
    /// then, and when: who takes part, and so votes on the run's state, and how far the run is.
    var lastProgress: (records: [OwnedRecord<PeerProgress>], totals: [ShardTotal], wall: WallClockInstant) = ([], [], .epoch)
    /// The last group round: its members stepped with this peer.
    var lastRound: FinishedRound?
    /// Training done while the round just finished averaged, counted towards the next round
    /// unless the round's outcome discards it.
    var carriedTraining: CarriedTraining?
    var stopRequested = false
    /// A background read of the progress records is out (`readProgressWhileTraining`).
    var progressReadInFlight = false
    /// The late join under way, while the update it missed is replayed in the background.
    var lateJoin: LateJoin?

    public init(settings: Settings) {
        precondition(settings.targetBatchSize > 0 && settings.stateBytes > 0 && settings.elementCount > 0,
                     "a run has a target batch, a state and gradients")
        self.settings = settings
    }

    /// What this peer tells its groups its bandwidth is: the fixed one, else the estimate.
    public var announcedBandwidth: UInt64 { settings.fixedBandwidth ?? bandwidth.announced }

    var peerID: PeerID { settings.me }

    var progressTracker: ProgressTracker {
        var tracker = ProgressTracker(targetBatchSize: settings.targetBatchSize)
        tracker.staleAfter = settings.staleAfter
        return tracker
    }

    var windowMeanLoss: Double { windowSamples > 0 ? windowLoss / Double(windowSamples) : 0 }

    /// This peer's progress record as of `now`.
    func ownProgress(_ now: Now) -> PeerProgress {
        PeerProgress(step: step, samplesAccumulated: accumulatedSamples, samplesPerSecond: throughput.samplesPerSecond,
                     loss: windowMeanLoss, timestampMilliseconds: now.wall.millisecondsSinceEpoch, clientMode: settings.clientMode)
    }

    /// Starts the session: the peer joined and holds the run's initial state.
    public mutating func start(at now: Now) -> [Directive] {
        guard case .starting = phase else { preconditionFailure("a session starts once") }
        return beginCatchUp(force: false, progressKnown: false)
    }

    /// Asks the session to leave at the next point where it would train (a round in flight
    /// finishes first, so that its members are not left owing it chunks).
    public mutating func requestStop() {
        stopRequested = true
    }

    /// Takes the answer to the directive the session waits on.
    public mutating func handle(_ event: Event, at now: Now) -> [Directive] {
        switch (phase, event) {
        case (.training, .trained(let samples, let seconds, let loss)):
            return onTrained(samples: samples, seconds: seconds, loss: loss, now)
        case (.training, .connectivityChecked(let connectivity)):
            return onConnectivityChecked(connectivity, now)
        case (.training, .progressRead(let records, let totals)):
            return onProgressRead(records, totals: totals, now)
        case (.catchingUp(let stage), _):
            return continueCatchUp(stage, event, now)
        case (.checkingAgreement, .woke):
            return [.readStateAnnouncements]
        case (.checkingAgreement(let expectedPeers), .stateAnnouncementsRead(let records)):
            return checkAgreement(records, expectedPeers: expectedPeers, now)
        case (.reloadingAgreedState, .stateLoaded(let loaded)):
            return stateLoaded(loaded, now)
        case (.reloadingAgreedState(let expectedPeers), .stateDownloadFailed(let reason)):
            // A failed download (the holders left or moved on) must not stop averaging for good.
            return [.note(.stateDownloadFailed(step: step, reason: reason))] + beginMatchmaking(expectedPeers: expectedPeers, now)
        // The phase lets go of the matchmaking first (each path sets the next phase), so that the
        // matchmaker's tables, one entry per declaration, are changed in place and not copied.
        case (.matchmaking(let matchmaking), .woke):
            phase = .starting
            return matchmakingWoke(matchmaking, now)
        case (.matchmaking(let matchmaking), .matchmakingRead(let plans, let declarations)):
            phase = .starting
            return matchmakingRead(matchmaking, plans: plans, declarations: declarations, now)
        case (.matchmaking(let matchmaking), .trained(let samples, let seconds, let loss)) where matchmaking.carried != nil:
            phase = .starting
            return trainedWhileMatchmaking(matchmaking, samples: samples, seconds: seconds, loss: loss, now)
        case (.averaging(let round), .roundFinished(let result)):
            return roundFinished(round, result, now)
        case (.averagingWhileTraining(let round, let carried), .trained(let samples, let seconds, let loss)):
            return trainedWhileAveraging(round, carried, samples: samples, seconds: seconds, loss: loss)
        case (.averagingWhileTraining(let round, let carried), .roundFinished(let result)):
            if lateJoin != nil { return lateJoinRoundFinished(round, result, carried: carried, now) }
            carriedTraining = carried
            return roundFinished(round, result, now)
        case (.training, .backgroundReplayFinished(let outcome)), (.averagingWhileTraining, .backgroundReplayFinished(let outcome)),
             (.awaitingReplay, .backgroundReplayFinished(let outcome)):
            return backgroundReplayFinished(outcome, now)
        case (.announcing(let next), .stateAnnounced(let announcedStep, let hash)):
            if case .reportRound(_, let result) = next {
                moveStateTallies(with: result.participants, to: ShardTotal.StateTally(step: announcedStep, hash: hash, voters: 0))
            }
            step = announcedStep
            announcedHash = hash
            lineage.record(step: announcedStep, hash: hash)
            return afterAnnouncement(next, now)
        default:
            preconditionFailure("event \(event) does not answer what the session waits for in \(phase)")
        }
    }

    /// The next micro-batch, or the goodbye when the session is to end.
    mutating func trainOrLeave(_ now: Now) -> [Directive] {
        phase = .training
        if stopRequested || settings.stopAfterStep.map({ step >= $0 }) == true {
            phase = .left
            hasLeft = true
            var goodbye = ownProgress(now)
            goodbye.samplesAccumulated = 0
            goodbye.samplesPerSecond = 0
            goodbye.timestampMilliseconds = 0
            return [.note(.left(step: step)), .leave(goodbye: goodbye)]
        }
        return [.train]
    }
}

/// A round this peer averaged in, as far as the run's progress is concerned.
struct FinishedRound: Sendable {
    /// The step the members averaged at; they are at the next one now.
    var step: Int
    var otherMembers: Set<PeerID>
    var endedAtMilliseconds: UInt64
    var endedAt: MonotonicInstant
    /// Whether this peer's first micro-batch after the round came in (`VolunteerSession.resumeDelay`).
    var resumeMeasured = false
}

/// A finished round whose members' states are still to be compared.
struct PendingAgreement: Sendable, Equatable {
    /// The step the members' states are at after the round.
    let step: Int
    /// The other members, whose announcements the comparison waits for.
    let members: Set<PeerID>
    /// When to compare with whatever has been announced by then.
    let deadline: MonotonicInstant
}
