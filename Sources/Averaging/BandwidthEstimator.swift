/// A peer's bandwidth estimate, measured from its recent rounds rather than self-reported.
///
/// Starts at a configured first guess; once rounds have been measured, the estimate is the
/// lower median of the last `window` measured rates (of all of them until there are that many).
/// A median, not an average: one odd round moves nothing. A slow round (a busy network, a
/// stalled peer) does not halve a peer's share, and neither does a round whose chunks all
/// reached a busy owner in one read, which measures a rate far above its link and would
/// otherwise hand it a part it cannot carry for several rounds. A real change shows after
/// half the window. The estimate is what a peer announces in its `Declaration` (DeDLOC §3.1
/// balances load by measured throughput).
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
    /// Measured rounds the estimate looks back on.
    public let window: Int
    /// The latest measured rates, oldest first.
    private var recent: [Double] = []

    public init(firstGuess bytesPerSecond: Double, window: Int = 5) {
        precondition(bytesPerSecond > 0 && bytesPerSecond.isFinite, "first guess \(bytesPerSecond) must be a positive rate")
        precondition(window >= 1, "window \(window) must hold at least one round")
        self.estimate = bytesPerSecond
        self.window = window
    }

    /// Takes in one measured rate; rates that are not positive and finite are ignored.
    public mutating func observe(bytesPerSecond rate: Double) {
        guard rate > 0, rate.isFinite else { return }
        recent.append(rate)
        if recent.count > window { recent.removeFirst(recent.count - window) }
        let sorted = recent.sorted()
        estimate = sorted[(sorted.count - 1) / 2]
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
