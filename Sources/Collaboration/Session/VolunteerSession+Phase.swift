import CohortBase
import Averaging

extension VolunteerSession {
    /// Where the session is, and what it waits for there.
    enum Phase: Sendable {
        case starting
        /// Waiting on `trained`, or on the progress cycle's `connectivityChecked` and `progressRead`.
        case training
        case catchingUp(CatchUpStage)
        /// The global batch is complete; waiting on the state announcements to compare ours with
        /// (read again after a short sleep while the last round's members have not announced).
        case checkingAgreement(expectedPeers: Int)
        /// Our state was not the agreed one; downloading that one.
        case reloadingAgreedState(expectedPeers: Int)
        case matchmaking(Matchmaking)
        case averaging(RoundInProgress)
        /// The round runs in the background while the trainer goes on (`trainsWhileAveraging`).
        case averagingWhileTraining(RoundInProgress, CarriedTraining)
        /// A late joiner waits for the update it missed before it goes on (`awaitBackgroundReplay`).
        case awaitingReplay(AfterReplay)
        /// Waiting on `stateAnnounced`, then going on with the stored step.
        case announcing(AfterAnnouncement)
        case left
    }

    /// Catching up with the run's state, one read or download at a time.
    struct CatchUp: Sendable {
        /// Reload even a state of our own step when the run elects another one.
        var force: Bool
        /// Join the run's next round at once when its state is one step ahead (`joinLate`).
        var mayJoinLate = false
        /// Whether a download was tried, so that a failed catch-up does not announce the
        /// initial state as if the run had not started.
        var attempted = false
    }

    enum CatchUpStage: Sendable {
        case readingProgress(CatchUp)
        case readingState(CatchUp)
        /// Reading the announcements until the run's state is newer than this peer's, or
        /// `deadline` passes (`awaitNewerState`); `suspects` are the group that left this peer out.
        case awaitingNewerState(CatchUp, deadline: MonotonicInstant, suspects: [PeerID])
        /// Replaying the updates from this peer's state to the elected one, which is
        /// downloaded if the replay fails.
        case replayingElected(CatchUp, ElectedState)
        case downloadingElected(CatchUp)
        /// Reading the announcements of the shard that holds the elected state, for its donors.
        case readingDonors(CatchUp, ElectedState)
        case readingCheckpoint(CatchUp)
        case downloadingCheckpoint(CatchUp)
    }

    /// The state the run's voters elected (`StateElection`), and who serves it.
    struct ElectedState: Sendable {
        var step: Int
        var hash: [UInt8]
        var voters: Int
        var donors: [StateDonor]
        /// In a run of several shards, when none of this peer's shard serves the state, the
        /// shards that voted for it, most votes first: their announcements name the donors
        /// (`readDonors`), read shard after shard until one has a holder that serves it.
        var donorShards: [Int] = []
    }

    /// The round being formed or averaged: what the peer brings to it.
    struct RoundInProgress: Sendable {
        var step: Int
        var samples: Int
        var loss: Double
        var started: MonotonicInstant
        /// The state hash the round's DHT keys are under.
        var stateHash: [UInt8]
        /// Where the round's declarations and plans go.
        var matchmakingKey: MatchmakingKey
    }

    /// What the trainer did while a round averaged in the background: the next round's start.
    struct CarriedTraining: Sendable {
        var samples = 0
        var lossSum = 0.0
    }

    struct Matchmaking: Sendable {
        var matchmaker: Matchmaker
        var round: RoundInProgress
        var wakeAt: MonotonicInstant
        var publishedPlan = false
        /// What the trainer did while the group formed, when it trains meanwhile
        /// (`trainsWhileAveraging`): the next round's start. Nil while the peer waits.
        var carried: CarriedTraining?
        /// A `readMatchmakingWhileTraining` is out.
        var readInFlight = false
    }

    enum AfterAnnouncement: Sendable {
        case train
        /// Publish this peer's progress at its new step, then train.
        case trainOnLoadedState
        case reportRound(RoundInProgress, AllReduceResult)
        case reportSteppedAlone(RoundInProgress, FormationFailure)
    }
}
