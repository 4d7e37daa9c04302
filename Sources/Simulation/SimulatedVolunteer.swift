import Averaging
import CohortBase
import Collaboration
import DHT
import Wire

/// One volunteer in the simulation: its session (the real state machine), its machine, and
/// the training state its trainer would hold, as a step and a hash.
struct SimulatedVolunteer {
    let id: PeerID
    let profile: VolunteerProfile
    var session: VolunteerSession
    /// Tells a departed volunteer's late answers from a live one's.
    let incarnation: Int
    var isOnline = true
    let joinedAt: MonotonicInstant
    var leftAt: MonotonicInstant?
    var stateStep = 0
    var stateHash: [UInt8]
    /// The averaged update the last round produced, applied at `applyUpdate`.
    var roundResultHash: [UInt8]?
    /// Training accumulated towards the next update.
    var accumulated = TrainedWork()
    /// The training a round in the background averages, while `accumulated` counts what the
    /// volunteer trains meanwhile: the trainer keeps those inner steps on top of the averaged
    /// state (`TrainingRun.applyUpdate`), so they go into the next update.
    var averagedWork: TrainedWork?
    /// The micro-batches being trained, if any.
    var trainingInFlight: TrainingChunk?
    /// The round it averages in, until its session takes the outcome.
    var roundInFlight: RoundInFlight?
    /// The answer of a background read that came while the volunteer trained.
    var backgroundAnswer: VolunteerSession.Event?
    /// The session waits for the background read's answer (`awaitProgressRead`).
    var awaitsBackgroundAnswer = false
    /// The answer of the matchmaking read in the background (`readMatchmakingWhileTraining`),
    /// once in, for the volunteer's next `train`.
    var matchmakingAnswer: VolunteerSession.Event?
    /// The replay of a late join, fetched in the background.
    var backgroundReplay: BackgroundReplay?
    /// The states its kept updates lead through, oldest first: the chains it can serve to
    /// joiners replaying them (`UpdateLog`). A loaded state starts a new chain.
    var chainStates: [StateAtStep] = []
    /// The step of the first state it loaded from the run, and how many steps later it first
    /// averaged in a group round.
    var firstLoadedStep: Int?
    var stepsFromLoadToRound: Int?

    /// A late join's replay: its number among the volunteer's replays (a cancelled one's late
    /// end is ignored), and once fetched, the states it leads through (nil: it failed).
    struct BackgroundReplay {
        let number: Int
        var fetched: [StateAtStep]??
        /// The session waits for it (`awaitBackgroundReplay`).
        var isAwaited = false
    }

    /// Its state now becomes `state`, by an update (`continuing` the chain) or a load.
    mutating func reach(_ state: StateAtStep, continuing: Bool, keep: Int) {
        stateStep = state.step
        stateHash = state.hash
        if !continuing || chainStates.last.map({ $0.step + 1 != state.step }) == true { chainStates.removeAll() }
        chainStates.append(state)
        if chainStates.count > keep + 1 { chainStates.removeFirst(chainStates.count - keep - 1) }
    }

    /// Whether its kept updates lead from `from` to `to`.
    func holdsChain(from: StateAtStep, to: StateAtStep) -> Bool {
        chainStates.contains(from) && chainStates.contains(to) && from.step < to.step
    }

    /// How long this volunteer was online up to `time`.
    func onlineTime(until time: MonotonicInstant) -> Duration {
        (leftAt ?? time) - joinedAt
    }
}

/// Compute a volunteer did and the samples it trained.
struct TrainedWork: Equatable {
    var seconds = 0.0
    var samples = 0

    mutating func add(_ chunk: TrainingChunk) {
        seconds += chunk.seconds
        samples += chunk.samples
    }

    mutating func add(_ work: TrainedWork) {
        seconds += work.seconds
        samples += work.samples
    }
}

/// A volunteer's all-reduce from its start until its session takes the `roundFinished`.
struct RoundInFlight {
    let startedAt: MonotonicInstant
    /// Training goes on meanwhile (`allReduceInBackground`): the outcome waits for the
    /// session's next `train`, as in `PeerSession`, unless the session waits for it.
    let inBackground: Bool
    /// The session waits for the outcome: from the start of a blocking round, from
    /// `awaitRound` on in the background.
    var isAwaited: Bool
    var outcome: AllReduceResult?
    /// Compute seconds the volunteer trained meanwhile.
    var trainedSeconds = 0.0

    init(startedAt: MonotonicInstant, inBackground: Bool) {
        self.startedAt = startedAt
        self.inBackground = inBackground
        isAwaited = !inBackground
    }
}

/// A training state as the simulation tells states apart: its step and its stand-in hash.
struct StateAtStep: Equatable {
    var step: Int
    var hash: [UInt8]
}

/// Deterministic stand-ins for state hashes: equal inputs give equal hashes, as equal states do.
enum StateHashes {
    static let initial = hash(words: [0x436F_686F_7274, 0, 0, 0])

    static func mixed(_ hash: [UInt8], _ first: UInt64, _ second: UInt64) -> [UInt8] {
        var words = [UInt64](repeating: 0, count: 4)
        for index in 0..<4 {
            var word: UInt64 = 0
            for byte in hash[(index * 8)..<(index * 8 + 8)] { word = word << 8 | UInt64(byte) }
            words[index] = word
        }
        var generator = SplitMix64(seed: words[0] ^ first &* 0x9E37_79B9_7F4A_7C15 ^ second &* 0xC2B2_AE3D_27D4_EB4F ^ words[1] ^ words[2] ^ words[3])
        return Self.hash(words: (0..<4).map { _ in generator.next() })
    }

    private static func hash(words: [UInt64]) -> [UInt8] {
        words.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (56 - 8 * $0)) } }
    }
}
