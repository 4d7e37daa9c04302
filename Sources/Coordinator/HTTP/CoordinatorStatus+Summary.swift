/// Latest values derived from the status, shared by the page and `/metrics`.
extension CoordinatorStatus {
    /// The newest recorded round, if any.
    public var latestRound: Round? { rounds.last }

    /// How far the run's accumulated samples are towards the target batch, clamped to 0…1.
    public var targetBatchProgress: Double {
        guard targetBatchSize > 0 else { return 0 }
        return min(1, max(0, Double(samplesAccumulated) / Double(targetBatchSize)))
    }

    /// The newest `count` rounds of the window, newest first, as the recent-rounds table lists them.
    public func recentRounds(_ count: Int) -> [Round] {
        Array(rounds.suffix(count).reversed())
    }
}
