import CohortBase
import Averaging
import DHT
import Wire

extension VolunteerSession {
    /// One reading of the shell's clock. Deadlines the session keeps for itself run on the
    /// monotonic clock; the times it writes into records, and compares with other peers'
    /// records, are wall-clock instants, since every peer reads them.
    public typealias Now = ClockReading

    /// What happened, as the shell tells it: each event answers the directive the session is
    /// waiting on (`Directive.awaitsEvent`).
    public enum Event: Sendable {
        /// The trainer accumulated one micro-batch.
        case trained(samples: Int, seconds: Double, loss: Double)
        /// The answer to `rejoinIfIsolated`.
        case connectivityChecked(Connectivity)
        /// The progress records under the progress key of this peer's shard (`OwnedRecord`: each
        /// under its writer's subkey, decoded) and, in a run of several shards, the shard totals.
        case progressRead([OwnedRecord<PeerProgress>], totals: [OwnedRecord<ShardTotal>] = [])
        /// The announcements under the run's state key.
        case stateAnnouncementsRead([OwnedRecord<StateAnnouncement>])
        /// The announcements under the run's checkpoint key.
        case checkpointRead([OwnedRecord<StateAnnouncement>])
        /// The download finished and the trainer holds the state of `step`.
        case stateLoaded(step: Int)
        case stateDownloadFailed(reason: String)
        /// The replay asked for by `replayUpdates` failed; the trainer still holds the state it
        /// started from.
        case stateReplayFailed(reason: String)
        /// The trainer's state was frozen for serving and announced; `hash` is its digest.
        case stateAnnounced(step: Int, hash: [UInt8])
        /// The plans and declarations under the step's keys.
        case matchmakingRead(plans: [OwnedRecord<GroupPlan>], declarations: [OwnedRecord<Declaration>])
        /// The time asked for by `sleep(until:)` has come.
        case woke
        case roundFinished(AllReduceResult)
        /// The replay started by `replayUpdatesInBackground` is over: delivered in place of a
        /// `train`, or as the answer to `awaitBackgroundReplay`.
        case backgroundReplayFinished(BackgroundReplayOutcome)
    }

    /// How a background replay ended.
    public enum BackgroundReplayOutcome: Sendable, Equatable {
        /// The trainer's shared state is now the replay's target: the state `toStep` with the
        /// hash asked for. The training this peer did since its last round is kept, moved with
        /// the shared parameters (`TrainingRun.applyReplayedUpdate`).
        case landed(step: Int)
        /// The trainer still holds the state the replay started from, with its training.
        case failed(reason: String)
    }

    /// The answer to `rejoinIfIsolated`.
    public enum Connectivity: Sendable, Equatable {
        /// The routing table has contacts: nothing was done.
        case connected
        /// The table was empty and joining again through the join addresses found contacts.
        case rejoined(contacts: Int)
        /// The table was empty and no join address answered.
        case isolated
    }

    /// What the shell must do. The session hands out directives in batches whose last element,
    /// and only it, awaits an event (`awaitsEvent`); the others are done at once, in order.
    ///
    /// A background directive (`isBackground`) is started and not waited for: training goes on
    /// meanwhile, since on a home link a DHT read takes several round trips (a few hundred
    /// milliseconds) and a peer that waited for each would idle its GPU for a good share of the
    /// time. Its answer comes back in place of a `train`: the shell, about to carry out a
    /// `train`, delivers the finished background answer instead, and carries out the batch the
    /// session then hands out.
    public enum Directive: Sendable, Equatable {
        /// Accumulate one micro-batch; answered by `trained`.
        case train
        /// End the session with an error when the run no longer admits this peer.
        case checkStillAdmitted
        /// When the routing table is empty, join again; answered by `connectivityChecked`.
        case rejoinIfIsolated
        /// Store this peer's progress record. The shell need not wait for the store: nothing
        /// the session does next depends on it, and training should not wait on the DHT.
        case publishProgress(PeerProgress, lifetime: Duration)
        /// Store this shard's total under the shard-totals key, without waiting for it: this peer
        /// is one of its shard's reporters (`RunShards.reportersPerShard`).
        case publishShardTotal(ShardTotal, lifetime: Duration)
        /// Read this peer's shard's progress records (and the shard totals, in a run of several
        /// shards); answered by `progressRead`.
        case readProgress
        /// Read the progress records while training goes on; answered by `progressRead`, which
        /// the shell delivers in place of a later `train` (`isBackground`).
        case readProgressWhileTraining
        /// Wait for the background read's `progressRead` instead of training on: the run's
        /// batch looks complete.
        case awaitProgressRead
        /// Read the state announcements of this peer's shard; answered by `stateAnnouncementsRead`.
        case readStateAnnouncements
        /// Read the state announcements of another shard, for the donors of a state elected
        /// there; answered by `stateAnnouncementsRead`.
        case readDonors(shard: Int)
        case readCheckpoint
        /// Download the state `hash` of `step` from `donors` and load it; answered by
        /// `stateLoaded` or `stateDownloadFailed`.
        case downloadState(step: Int, hash: [UInt8], donors: [StateDonor])
        /// Fetch the updates a donor of the newer state applied from this peer's state
        /// (`fromHash` of `fromStep`) to the state `toHash` of `toStep`, and apply them with the
        /// trainer's update path, checking the state hash after each; answered by `stateLoaded`
        /// or `stateReplayFailed` (docs/protocol.md, "Update replay").
        case replayUpdates(fromStep: Int, fromHash: [UInt8], toStep: Int, toHash: [UInt8], donors: [StateDonor])
        /// Start fetching the update from this peer's state (`fromHash` of `fromStep`) to the
        /// state `toHash` of `toStep = fromStep + 1` into a buffer of its own, and go on: the
        /// peer takes part in the next round meanwhile (a late join, docs/protocol.md). Once
        /// fetched, the shell applies it before it carries out the next `train` (or at
        /// `awaitBackgroundReplay`) without disturbing the training or a round in flight, checks
        /// the hash, and answers `backgroundReplayFinished`.
        case replayUpdatesInBackground(fromStep: Int, fromHash: [UInt8], toStep: Int, toHash: [UInt8], donors: [StateDonor])
        /// Wait for the background replay; answered by `backgroundReplayFinished`.
        case awaitBackgroundReplay
        /// Stop the background replay and forget it: no answer comes for it, and the trainer is
        /// left as it is.
        case cancelBackgroundReplay
        /// Freeze the trainer's state for others to download and announce where it is served;
        /// answered by `stateAnnounced`.
        case announceState
        /// Divide the accumulated gradients by their samples, ready to average.
        case averageAccumulatedGradients
        case publishDeclaration(Declaration, MatchmakingKey)
        /// Store this declaration (of no samples) in place of the peer's own, without waiting for
        /// it: the peer left the step's matchmaking without a group, and matchmakers that read
        /// the withdrawal stop counting it.
        case withdrawDeclaration(Declaration, MatchmakingKey)
        case publishPlan(GroupPlan, MatchmakingKey)
        /// Read the step's plans and declarations; answered by `matchmakingRead`.
        case readMatchmaking(MatchmakingKey)
        /// Start reading the step's plans and declarations and go on: a later `train` is
        /// answered by the read's `matchmakingRead` instead, once it is in.
        case readMatchmakingWhileTraining(MatchmakingKey)
        case sleep(until: MonotonicInstant)
        /// Average the gradients with the plan's group; answered by `roundFinished`.
        case allReduce(GroupPlan)
        /// Start averaging with the plan's group and go on: the `train` directives that follow
        /// may be answered by the round's `roundFinished` instead, once it is in.
        case allReduceInBackground(GroupPlan)
        /// Wait for the round started in the background; answered by `roundFinished`.
        case awaitRound
        /// Take the optimizer step with the averaged gradients, leaving out the parts not averaged.
        /// `samples`: the sequences behind them (the round's participants' counts as the average
        /// weighed them, or this peer's own when it steps alone), which a run stating a
        /// temperature steps by: lr = T × samples.
        case applyUpdate(skipping: [Range<Int>], samples: Int)
        case discardGradients
        case publishRoundReport(RoundReport)
        case reportOffence(PeerID, Offence)
        /// Tell the operator (the shell logs it); tests read these instead of log lines.
        case note(Note)
        /// Say goodbye (`goodbye`'s record) and end the session.
        case leave(goodbye: PeerProgress)

        /// Whether the shell must answer this directive with an event.
        public var awaitsEvent: Bool {
            switch self {
            case .train, .rejoinIfIsolated, .readProgress, .awaitProgressRead, .readStateAnnouncements, .readDonors, .readCheckpoint, .downloadState,
                 .replayUpdates, .announceState, .readMatchmaking, .sleep, .allReduce, .awaitRound, .awaitBackgroundReplay:
                true
            case .checkStillAdmitted, .publishProgress, .publishShardTotal, .readProgressWhileTraining, .averageAccumulatedGradients,
                 .publishDeclaration, .withdrawDeclaration, .publishPlan, .applyUpdate, .discardGradients, .publishRoundReport, .reportOffence,
                 .note, .leave, .allReduceInBackground, .replayUpdatesInBackground, .cancelBackgroundReplay,
                 .readMatchmakingWhileTraining:
                false
            }
        }

        /// Whether the shell starts this directive and goes on without waiting for its answer.
        public var isBackground: Bool {
            switch self {
            case .readProgressWhileTraining, .allReduceInBackground, .replayUpdatesInBackground, .readMatchmakingWhileTraining: true
            default: false
            }
        }
    }

    /// A peer serving a state, and where.
    public struct StateDonor: Sendable, Hashable {
        public var peer: PeerID
        public var endpoint: Endpoint

        public init(peer: PeerID, endpoint: Endpoint) {
            self.peer = peer
            self.endpoint = endpoint
        }
    }

    /// What a volunteer tells its operator.
    public enum Note: Sendable, Equatable {
        case behindTheRun(ownStep: Int, runStep: Int)
        case ignoredStateAnnouncement(StateElection.Refusal)
        case ignoredCheckpoint(step: Int, stateBytes: Int, expected: Int)
        case goingOnFromCheckpoint(step: Int)
        case stateLoaded(step: Int)
        case stateDownloadFailed(step: Int, reason: String)
        /// Replaying the updates from `fromStep` to `toStep` failed; the state is downloaded instead.
        case stateReplayFailed(fromStep: Int, toStep: Int, reason: String)
        /// The run is one step ahead: this peer joins its next round with what it trained on
        /// its state, `fromStep`, while it replays the update to `toStep` in the background.
        case joiningLate(fromStep: Int, toStep: Int)
        case hashMismatch(step: Int, agreeingVoters: Int, mismatches: Int)
        /// This peer stepped on without the others (`StateLineage`): `branchVoters` live peers,
        /// more than half of them, hold a state of `branchStep` it did not pass through, and
        /// `ownVoters` its own or one it passed through. It loads theirs, going back to `branchStep`.
        case onAnotherBranch(step: Int, branchStep: Int, branchVoters: Int, ownVoters: Int)
        case averaging(step: Int, peers: Int, partElements: Int, elementCount: Int, bandwidth: UInt64)
        case averaged(AveragedRound)
        case steppedAlone(step: Int, samples: Int, reason: FormationFailure)
        case couldNotAverage(step: Int, reason: FormationFailure)
        /// The group that left this peer out did not step within its round's time: its
        /// `members` are excluded from this peer's next groups.
        case groupNeverStepped(step: Int, members: [PeerID])
        /// `owner` sent an average of its part longer than the norm bound allows, `count` times
        /// since it was last excluded; `excluded` when that excludes it now.
        case outOfBoundAverage(step: Int, owner: PeerID, count: Int, excluded: Bool)
        case rejoined(contacts: Int)
        case isolated(retryInSeconds: Int)
        case left(step: Int)
    }

    /// A round this peer averaged in, as reported to the operator.
    public struct AveragedRound: Sendable, Equatable {
        public var step: Int
        public var peers: Int
        public var samples: Int
        public var loss: Double
        public var stateHash: [UInt8]
        public var seconds: Double
        public var allReduceSeconds: Double
        public var failedParts: Int
        public var inboundBytesPerSecond: Double?
    }
}
