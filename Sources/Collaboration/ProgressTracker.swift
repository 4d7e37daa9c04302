/// The run's collective progress towards its next optimizer step, as one peer sees it.
public struct GlobalProgress: Equatable, Sendable {
    /// The highest step any live peer is accumulating for.
    public var step: Int
    /// Samples accumulated for `step` by all live peers at that step, extrapolated to now.
    public var samplesAccumulated: Int
    public var targetBatchSize: Int
    /// Summed throughput of the live peers at `step`.
    public var samplesPerSecond: Double
    /// Live peers at `step` (the ones that will average together).
    public var peersAtStep: Int
    /// Seconds until the target is reached at the current throughput (0 when reached).
    public var secondsToTarget: Double

    public var isTargetReached: Bool { samplesAccumulated >= targetBatchSize }
}

/// Combines the progress records of every peer into `GlobalProgress` (DeDLOC §3.2).
///
/// A pure value: the caller passes the records it read from the DHT and the current time.
/// Records older than `staleAfterMilliseconds` belong to peers that left without saying goodbye
/// and are ignored. Counts are extrapolated from each record's throughput and age, capped at
/// `extrapolationLimitMilliseconds`, so that peers do not wait for the next publication to
/// notice that the batch is complete.
public struct ProgressTracker: Sendable {
    public var targetBatchSize: Int
    public var staleAfterMilliseconds: UInt64 = 30_000
    public var extrapolationLimitMilliseconds: UInt64 = 5_000

    public init(targetBatchSize: Int) {
        precondition(targetBatchSize > 0, "the target batch must be positive, got \(targetBatchSize)")
        self.targetBatchSize = targetBatchSize
    }

    public func globalProgress(of records: [PeerProgress], now: UInt64) -> GlobalProgress {
        let live = records.filter { now < $0.timestampMilliseconds || now - $0.timestampMilliseconds <= staleAfterMilliseconds }
        let step = live.map(\.step).max() ?? 0
        let atStep = live.filter { $0.step == step }
        var samples = 0.0, rate = 0.0
        for record in atStep {
            let age = now > record.timestampMilliseconds ? min(now - record.timestampMilliseconds, extrapolationLimitMilliseconds) : 0
            samples += Double(record.samplesAccumulated) + record.samplesPerSecond * Double(age) / 1000
            rate += record.samplesPerSecond
        }
        let missing = Double(targetBatchSize) - samples
        let seconds = missing <= 0 ? 0 : (rate > 0 ? missing / rate : .infinity)
        return GlobalProgress(step: step, samplesAccumulated: Int(samples), targetBatchSize: targetBatchSize,
                              samplesPerSecond: rate, peersAtStep: atStep.count, secondsToTarget: seconds)
    }
}
