import Collaboration
import Trainer

/// What `cohort simulate` simulates: the population, their links and compute, churn, and the
/// run's protocol settings.
public struct SimulationSettings: Sendable, Codable, Equatable {
    /// Volunteers online at once: the population at the start, kept by arrivals under churn.
    public var volunteers: Int
    public var simulatedSeconds: Double
    public var seed: UInt64
    /// Mean session length in seconds under churn; nil for volunteers that stay the whole run.
    public var meanSessionSeconds: Double?
    /// Upload and download bandwidth in bits per second, drawn log-uniformly per volunteer.
    public var bandwidthRange: ClosedRange<Double> = 10e6...200e6
    /// One-way latency to the rest of the run, in seconds, drawn uniformly.
    public var latencyRange: ClosedRange<Double> = 0.010...0.075
    /// Seconds a DHT request costs besides its round trip: signing, sealing, checking and
    /// storing at both ends, on machines that also train. About 0.4 ms on an idle machine
    /// (`cohort bench dht --live`'s get); on links of tens of milliseconds it hardly counts,
    /// on 127.0.0.1 it is most of a lookup (docs/simulation.md, "Calibration").
    public var dhtRequestSeconds: Double = 0.0005
    /// Upload as a share of download (home links are asymmetric).
    public var uploadShare: Double = 0.5
    /// Samples per second per volunteer, drawn log-uniformly (a mix of GPUs and CPUs).
    public var samplesPerSecondRange: ClosedRange<Double> = 4...64
    /// Each volunteer's samples per second, in the order they come online (later sessions go
    /// round the list), instead of drawing from `samplesPerSecondRange`: for reproducing a real
    /// run's machines.
    public var samplesPerSecondEach: [Double]?
    /// Share of volunteers behind NAT, in client mode.
    public var clientModeShare: Double = 0.3
    /// Gradient elements (the model's parameters) and bytes per element on the wire.
    public var parameters: Int = 10_000_000
    public var bytesPerElement: Double = 2
    public var microBatch: Int = 4
    public var targetBatchSize: Int = 4096
    /// Inner steps per averaging round (local SGD, `cohort coordinator --local-steps`): a round
    /// is due every `localSteps` target batches.
    public var localSteps: Int = 1
    /// Streaming local SGD (`cohort coordinator --fragments`): each round averages one of this
    /// many fragments of the parameters, every `localSteps / fragments` target batches.
    public var fragments: Int = 1
    /// Under local SGD, volunteers train on while their round averages, as real peers do by
    /// default (`cohort peer --[no-]train-while-averaging`), instead of waiting for it.
    public var trainsWhileAveraging = true
    /// With overlapped rounds, a volunteer one step behind joins the next round while it
    /// replays the update it missed in the background (`VolunteerSession.Settings.joinsLate`).
    public var joinsLate = true
    /// With overlapped rounds, volunteers train on while their group forms too
    /// (`VolunteerSession.Settings.trainsWhileMatchmaking`); on by default, as on real peers.
    public var trainsWhileMatchmaking = true
    public var matchmakingSeconds: Double = 5
    public var averagingTimeoutSeconds: Double = 60
    /// Largest group one leader forms (`Matchmaker.Settings.maxGroupSize`).
    public var maxGroupSize: Int = 64
    /// Updates each volunteer keeps for joiners to replay, and how far behind a joiner replays
    /// rather than downloads (`cohort peer --replay-updates`); 0 always downloads.
    public var replayUpdates: Int = 4
    /// Seconds over which the first volunteers come online; nil for a tenth of the run, at most a minute.
    public var arrivalSeconds: Double?
    /// Shards of the run's progress records and state announcements (`RunConfig.shards`): one,
    /// as a coordinator's run has unless told otherwise.
    public var shards = 1
    /// How many simulated seconds pass between progress lines.
    public var reportEverySeconds: Double = 300

    public init(volunteers: Int, simulatedSeconds: Double, seed: UInt64, meanSessionSeconds: Double? = nil) {
        self.volunteers = volunteers
        self.simulatedSeconds = simulatedSeconds
        self.seed = seed
        self.meanSessionSeconds = meanSessionSeconds
    }

    /// Samples the run trains per averaging round.
    public var samplesPerRound: Int { targetBatchSize * localSGD.localStepsPerRound }

    /// The run's local SGD as its volunteers' sessions see it: which fragment each round averages.
    public var localSGD: LocalSGDSettings { LocalSGDSettings(localSteps: localSteps, fragments: fragments) }

    /// Bytes on the wire of one update a volunteer replays: a fragment's under streaming local SGD.
    public var updateBytes: Int { localSGD.fragment(atStep: 0, of: parameters).count * 4 }

    /// Whether rounds average in the background while volunteers train: only under local SGD,
    /// whose pseudo-gradients have a buffer of their own.
    public var roundsOverlapTraining: Bool { trainsWhileAveraging && localSteps > 1 }

    /// The run's shards, once `validate` passed.
    public var effectiveShards: RunShards { (try? RunShards(count: shards)) ?? .one }

    /// Bytes of a training state: parameters and momentum in 32-bit floats.
    public var stateBytes: Int { parameters * 8 }

    /// Refuses settings that cannot describe a run, with a one-line reason.
    public func validate() throws(SimulationError) {
        func require(_ condition: Bool, _ reason: String) throws(SimulationError) {
            if !condition { throw SimulationError(reason) }
        }
        try require(volunteers >= 1 && volunteers <= 100_000, "--volunteers must be 1…100000, got \(volunteers)")
        try require(simulatedSeconds > 0 && simulatedSeconds <= 7 * 86_400, "--hours must be above 0 and at most 168")
        try require(meanSessionSeconds.map { $0 >= 60 } ?? true, "--churn must be a mean session of at least 1 minute")
        try require(samplesPerSecondEach.map { !$0.isEmpty && $0.count <= 100_000 && $0.allSatisfy { $0.isFinite && $0 > 0 } } ?? true,
                    "--samples-per-second must list 1…100000 positive speeds")
        try require(bandwidthRange.lowerBound > 0 && latencyRange.lowerBound >= 0 && samplesPerSecondRange.lowerBound > 0,
                    "bandwidth, latency and compute ranges must be positive")
        try require((0...1).contains(clientModeShare) && uploadShare > 0 && uploadShare <= 1, "shares must lie in 0…1")
        try require(parameters > 0 && microBatch > 0 && targetBatchSize > 0 && maxGroupSize >= 2, "model and batch sizes must be positive")
        try require(arrivalSeconds.map { $0 >= 0 && $0 <= simulatedSeconds } ?? true, "--arrival-seconds must lie within the run")
        try require((1...100_000).contains(localSteps), "--local-steps must be 1…100000, got \(localSteps)")
        try require(localSGD.problem == nil, "--fragments must divide --local-steps (\(localSteps)), got \(fragments)")
        try require((0...64).contains(replayUpdates), "--replay-updates must be 0…64, got \(replayUpdates)")
        try require(matchmakingSeconds > 0 && averagingTimeoutSeconds > 0, "matchmaking and averaging times must be positive")
        try require(dhtRequestSeconds >= 0 && dhtRequestSeconds <= 1, "--dht-request-ms must be 0…1000")
        do { _ = try RunShards(count: shards) } catch { throw SimulationError("--shards: \(error.description)") }
    }
}

public struct SimulationError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
