/// What a simulated run achieved (`cohort simulate --json`).
public struct SimulationReport: Codable, Equatable, Sendable {
    public var volunteers: Int
    /// Shards of the run's progress records and state announcements (`RunShards`).
    public var shards: Int
    public var simulatedSeconds: Double
    public var wallSeconds: Double
    /// Volunteer sessions started, churn's arrivals included.
    public var sessions: Int
    /// All-reduce rounds of two or more members.
    public var rounds: Int
    /// Steps a volunteer took alone, with nobody to average with.
    public var aloneSteps: Int
    /// The highest step any volunteer reached.
    public var steps: Int
    /// Compute time whose samples went into an applied update, over the volunteers' time online.
    public var utilisation: Double
    /// Matchmaking attempts that ended in a step (a group, or alone), over all attempts.
    public var matchmakingSuccessRate: Double
    public var meanGroupSize: Double
    public var meanRoundSeconds: Double
    /// The run's target batch, and the samples a group round averaged on average: rounds end
    /// at the target, give or take a micro-batch per member.
    public var targetBatch: Int
    public var meanRoundSamples: Double
    public var stateDownloads: Int
    /// Catch-ups that replayed the updates since the volunteer's state instead of downloading.
    public var stateReplays: Int
    /// Volunteers one step behind that joined the next round while replaying the update they
    /// missed, and those replays that landed.
    public var lateJoins: Int
    public var backgroundReplays: Int
    /// Volunteers that loaded the run's state (came after it started), and those of them that
    /// then averaged in a group round.
    public var joiners: Int
    public var joinersAveraged: Int
    /// Steps from the first state a joiner loaded to the first group round it averaged in:
    /// how long joiners chased the run before they took part.
    public var meanRoundsToAverage: Double
    public var maxRoundsToAverage: Int
    public var hashMismatches: Int
    /// DHT requests (each with its reply) per online volunteer per second.
    public var dhtMessagesPerPeerPerSecond: Double
    /// Averaging and DHT bytes per sample that went into an update.
    public var bytesPerSample: Double
    /// The key read and written most, and the bytes per second it serves (over all replicas);
    /// for progress and state, one shard's key.
    public var hottestKey: String
    public var hottestKeyBytesPerSecond: Double
    /// Samples per second that went into updates, over the whole run.
    public var usefulSamplesPerSecond: Double
    /// Session events the simulator processed.
    public var events: Int
    /// Whether volunteers trained on while their rounds averaged (local SGD with
    /// `--train-while-averaging`).
    public var trainWhileAveraging: Bool
    /// Of the time volunteers spent in their rounds, from joining one to taking its outcome,
    /// the share they also trained: 0 when rounds block training.
    public var trainingShareWhileAveraging: Double

    enum CodingKeys: String, CodingKey {
        case volunteers, shards, sessions, rounds, steps, utilisation, events
        case simulatedSeconds = "simulated_seconds"
        case wallSeconds = "wall_seconds"
        case aloneSteps = "alone_steps"
        case matchmakingSuccessRate = "matchmaking_success_rate"
        case meanGroupSize = "mean_group_size"
        case meanRoundSeconds = "mean_round_seconds"
        case targetBatch = "target_batch"
        case meanRoundSamples = "mean_round_samples"
        case stateDownloads = "state_downloads"
        case stateReplays = "state_replays"
        case lateJoins = "late_joins"
        case backgroundReplays = "background_replays"
        case joiners
        case joinersAveraged = "joiners_averaged"
        case meanRoundsToAverage = "mean_rounds_to_average"
        case maxRoundsToAverage = "max_rounds_to_average"
        case hashMismatches = "hash_mismatches"
        case dhtMessagesPerPeerPerSecond = "dht_messages_per_peer_per_second"
        case bytesPerSample = "bytes_per_sample"
        case hottestKey = "hottest_key"
        case hottestKeyBytesPerSecond = "hottest_key_bytes_per_second"
        case usefulSamplesPerSecond = "useful_samples_per_second"
        case trainWhileAveraging = "train_while_averaging"
        case trainingShareWhileAveraging = "training_share_while_averaging"
    }
}

/// A line of progress while the simulation runs.
public struct SimulationProgress: Sendable {
    public var simulatedSeconds: Double
    public var totalSeconds: Double
    public var online: Int
    public var rounds: Int
    public var steps: Int
    public var wallSeconds: Double
}
