/// Everything the dashboard, `/api/status` and `/metrics` show: a snapshot of what the
/// coordinator knows about its run, taken whenever a page is served.
public struct CoordinatorStatus: Sendable, Equatable, Codable {
    /// One averaging round as the coordinator recorded it.
    public struct Round: Sendable, Equatable, Codable {
        public var step: Int
        public var members: Int
        public var samples: Int
        public var durationSeconds: Double
        /// Mean training loss the members reported for the step.
        public var loss: Double
        public var samplesPerSecond: Double
        public var bytesSent: UInt64
        public var bytesReceived: UInt64
        public var failedParts: Int
        /// Why the round was degraded or not averaged; empty when all went well.
        public var note: String
        /// When the coordinator recorded it (ms since the Unix epoch).
        public var recordedAtMilliseconds: UInt64

        public init(step: Int, members: Int, samples: Int, durationSeconds: Double, loss: Double, samplesPerSecond: Double,
                    bytesSent: UInt64, bytesReceived: UInt64, failedParts: Int, note: String, recordedAtMilliseconds: UInt64) {
            self.step = step
            self.members = members
            self.samples = samples
            self.durationSeconds = durationSeconds
            self.loss = loss
            self.samplesPerSecond = samplesPerSecond
            self.bytesSent = bytesSent
            self.bytesReceived = bytesReceived
            self.failedParts = failedParts
            self.note = note
            self.recordedAtMilliseconds = recordedAtMilliseconds
        }
    }

    /// A peer that published progress recently.
    public struct Peer: Sendable, Equatable, Codable {
        /// Short hex form of the peer id ("9f3c…").
        public var id: String
        public var step: Int
        public var samplesAccumulated: Int
        public var samplesPerSecond: Double
        public var loss: Double
        public var clientMode: Bool
        public var secondsSinceUpdate: Double
        /// From the peer's own `PeerActivity`, when it published one: time in forward and
        /// backward ÷ wall time, averaging bytes (both ways) per token trained, and its own
        /// optimizer steps in the last round it averaged (inner steps under local SGD).
        public var utilisation: Double?
        public var bytesPerToken: Double?
        public var stepsInLastRound: Int?

        public init(id: String, step: Int, samplesAccumulated: Int, samplesPerSecond: Double, loss: Double,
                    clientMode: Bool, secondsSinceUpdate: Double) {
            self.id = id
            self.step = step
            self.samplesAccumulated = samplesAccumulated
            self.samplesPerSecond = samplesPerSecond
            self.loss = loss
            self.clientMode = clientMode
            self.secondsSinceUpdate = secondsSinceUpdate
        }
    }

    /// One point of a plotted series: a step (the mean of a bucket's steps once the series is
    /// downsampled) and the value there.
    public struct PlotPoint: Sendable, Equatable, Codable {
        public var step: Double
        public var value: Double

        public init(step: Double, value: Double) {
            self.step = step
            self.value = value
        }
    }

    public var runName: String
    /// The DHT address peers join through.
    public var joinAddress: String
    public var step: Int
    /// Sequences the run accumulates per step (`RunConfig.samplesPerRound`: under local SGD, the
    /// target batch times the local steps).
    public var targetBatchSize: Int
    /// Inner steps per averaging round; 1 when every step is averaged.
    public var localSteps = 1
    /// Fragments of the parameters the rounds average in turn (streaming local SGD); 1 when
    /// every round averages all of them.
    public var fragments = 1
    /// Parameters of the run's model.
    public var parameters = 0
    public var samplesAccumulated: Int
    public var peers: [Peer]
    /// The newest recorded rounds, oldest first: at most the coordinator's round window
    /// (`RoundHistory.defaultWindowSize`). `/api/rounds` pages through all of them.
    public var rounds: [Round] = []
    /// Rounds recorded over the whole run, in and out of `rounds`.
    public var roundsTotal = 0
    /// Samples averaged over the whole run.
    public var samplesTotal = 0
    /// Parts of the all-reduce that failed over the whole run.
    public var failedPartsTotal = 0
    /// Steps of the oldest and newest recorded rounds; nil before the first.
    public var firstStep: Int?
    public var lastStep: Int?
    /// The whole run's mean loss and throughput per step, downsampled to a few hundred points
    /// (`DownsampledSeries`), for plots.
    public var lossPlot: [PlotPoint] = []
    public var throughputPlot: [PlotPoint] = []
    /// Step of the newest checkpoint on disk, if any.
    public var lastCheckpointStep: Int?
    public var lastCheckpointPath: String?
    public var hashMismatches: Int
    public var uptimeSeconds: Double
    /// The mean utilisation of the live peers that report one (`Peer.utilisation`).
    public var utilisation: Double?
    /// Peer ids (hex) this coordinator bans now for offences it saw, such as announcing a state
    /// of another size than the run's (docs/security.md).
    public var bannedPeers: [String] = []

    public init(runName: String, joinAddress: String, step: Int, targetBatchSize: Int, samplesAccumulated: Int,
                peers: [Peer], history: RoundHistory, lastCheckpointStep: Int?, lastCheckpointPath: String?,
                hashMismatches: Int, uptimeSeconds: Double) {
        self.runName = runName
        self.joinAddress = joinAddress
        self.step = step
        self.targetBatchSize = targetBatchSize
        self.samplesAccumulated = samplesAccumulated
        self.peers = peers
        self.lastCheckpointStep = lastCheckpointStep
        self.lastCheckpointPath = lastCheckpointPath
        self.hashMismatches = hashMismatches
        self.uptimeSeconds = uptimeSeconds
        show(history)
    }
}
