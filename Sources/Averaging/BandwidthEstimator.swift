/// A peer's bandwidth estimate, measured from its recent rounds rather than self-reported.
///
/// Starts at a configured first guess; the first observed round replaces the guess, and later
/// rounds move the estimate by an exponentially weighted moving average, so one slow round
/// (a busy network, a stalled peer) does not halve a peer's share at once. The estimate is what
/// a peer announces in its `Declaration` (DeDLOC §3.1 balances load by measured throughput).
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

    /// Takes in one round's traffic: bytes moved (sent plus received) over its duration.
    /// Rounds that moved nothing or took no time say nothing about bandwidth and are ignored.
    public mutating func observe(bytes: Int, seconds: Double) {
        guard bytes > 0, seconds > 0, seconds.isFinite else { return }
        let rate = Double(bytes) / seconds
        estimate = hasObservation ? smoothing * rate + (1 - smoothing) * estimate : rate
        hasObservation = true
    }

    /// Takes in a finished all-reduce round's traffic.
    public mutating func observe(_ result: AllReduceResult) {
        observe(bytes: result.bytesSent + result.bytesReceived, seconds: result.duration.seconds)
    }

    /// The estimate as announced in a declaration: whole bytes per second, at least 1.
    public var announced: UInt64 {
        estimate >= Double(UInt64.max) ? .max : max(1, UInt64(estimate))
    }
}
