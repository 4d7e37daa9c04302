/// A peer's bandwidth estimate, measured from its recent rounds rather than self-reported.
///
/// Starts at a configured first guess; the first measured round replaces the guess, and later
/// rounds move the estimate by an exponentially weighted moving average, so one slow round
/// (a busy network, a stalled peer) does not halve a peer's share at once. The estimate is what
/// a peer announces in its `Declaration` (DeDLOC §3.1 balances load by measured throughput).
///
/// A round measures the rate at which the members' chunks of this peer's part reached it
/// (`AllReduceResult.inboundBytesPerSecond`). The round's bytes over its duration would not do:
/// every member waits for the slowest one, so all would measure the same duration, and a
/// member with a larger part would measure more bytes, grow its part further and take over the
/// vector. A round in which this peer owned less than two chunks' worth measures nothing and
/// leaves the estimate as it was.
public struct BandwidthEstimator: Sendable {
    /// Bytes per second.
    public private(set) var estimate: Double
    /// Weight of the newest observation, in (0, 1].
    public let smoothing: Double
    private var hasObservation = false

    public init(firstGuess bytesPerSecond: Double, smoothing: Double = 0.3) {
        precondition(bytesPerSecond > 0 && bytesPerSecond.isFinite, "first guess \(bytesPerSecond) must be a positive rate")
        precondition(smoothing > 0 && smoothing <= 1, "smoothing \(smoothing) must be in (0, 1]")
        self.estimate = bytesPerSecond
        self.smoothing = smoothing
    }

    /// Takes in one measured rate; rates that are not positive and finite are ignored.
    public mutating func observe(bytesPerSecond rate: Double) {
        guard rate > 0, rate.isFinite else { return }
        estimate = hasObservation ? smoothing * rate + (1 - smoothing) * estimate : rate
        hasObservation = true
    }

    /// Takes in a finished all-reduce round's measurement, if it has one.
    public mutating func observe(_ result: AllReduceResult) {
        if let rate = result.inboundBytesPerSecond { observe(bytesPerSecond: rate) }
    }

    /// The estimate as announced in a declaration: whole bytes per second, at least 1.
    public var announced: UInt64 {
        estimate >= Double(UInt64.max) ? .max : max(1, UInt64(estimate))
    }
}
