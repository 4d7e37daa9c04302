/// The rounds the coordinator keeps in memory: a window of the newest, and totals and plots
/// kept up to date as rounds arrive, so they stay right after a round leaves the window.
///
/// A week at one round per second is 600,000 rounds; holding every one (about 200 bytes of
/// JSON each) and serving them all with each status made every `/api/status` answer grow
/// without bound. Older rounds stay in the journal on disk, from which `/api/rounds` pages them.
public struct RoundHistory: Sendable {
    /// Rounds kept in memory and returned by `/api/status`: about 200 KB of JSON at most.
    public static let defaultWindowSize = 1_000

    public let windowSize: Int
    /// The newest rounds, oldest first; up to twice the window, trimmed in one go when it
    /// fills, so that recording a round does not move the whole window each time.
    private var kept: [CoordinatorStatus.Round] = []
    public private(set) var roundCount = 0
    public private(set) var sampleCount = 0
    public private(set) var failedPartCount = 0
    public private(set) var firstStep: Int?
    public private(set) var loss: DownsampledSeries
    public private(set) var throughput: DownsampledSeries

    public init(windowSize: Int = defaultWindowSize, plotBuckets: Int = DownsampledSeries.defaultMaximumBuckets) {
        precondition(windowSize > 0, "a round window must hold at least one round, not \(windowSize)")
        self.windowSize = windowSize
        loss = DownsampledSeries(maximumBuckets: plotBuckets)
        throughput = DownsampledSeries(maximumBuckets: plotBuckets)
    }

    /// A history of `rounds`, oldest first, as if each had been recorded in turn.
    public init(rounds: [CoordinatorStatus.Round], windowSize: Int = defaultWindowSize) {
        self.init(windowSize: windowSize)
        rounds.forEach { record($0) }
    }

    /// The newest rounds, at most `windowSize`, oldest first.
    public var window: [CoordinatorStatus.Round] { Array(kept.suffix(windowSize)) }

    public var lastStep: Int? { kept.last?.step }

    public mutating func record(_ round: CoordinatorStatus.Round) {
        if kept.count == 2 * windowSize { kept.removeFirst(windowSize) }
        kept.append(round)
        roundCount += 1
        sampleCount += round.samples
        failedPartCount += round.failedParts
        if firstStep == nil { firstStep = round.step }
        loss.append(step: Double(round.step), value: round.loss)
        throughput.append(step: Double(round.step), value: round.samplesPerSecond)
    }
}

extension CoordinatorStatus {
    /// Shows `history`: its window as `rounds`, its totals and its plots.
    public mutating func show(_ history: RoundHistory) {
        rounds = history.window
        roundsTotal = history.roundCount
        samplesTotal = history.sampleCount
        failedPartsTotal = history.failedPartCount
        firstStep = history.firstStep
        lastStep = history.lastStep
        lossPlot = history.loss.points
        throughputPlot = history.throughput.points
    }
}
