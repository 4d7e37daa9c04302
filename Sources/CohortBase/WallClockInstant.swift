/// A point in wall-clock time: milliseconds since the Unix epoch, as records and tokens carry
/// it on the wire (record expiries, progress timestamps, token expiries).
///
/// Comparable across peers only as far as their clocks agree (`RunTimings.maxClockSkew`);
/// deadlines of one process use `MonotonicInstant` instead.
public struct WallClockInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var millisecondsSinceEpoch: UInt64

    public init(millisecondsSinceEpoch: UInt64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public static let epoch = WallClockInstant(millisecondsSinceEpoch: 0)

    public static func < (lhs: WallClockInstant, rhs: WallClockInstant) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    /// `lhs` moved on by `rhs` (whole milliseconds); a negative duration moves it back, no
    /// earlier than the epoch, and a positive one no later than the last representable
    /// millisecond: instants come from peers' records, and one near the end of u64 must not
    /// trap whoever adds a lifetime to it.
    public static func + (lhs: WallClockInstant, rhs: Duration) -> WallClockInstant {
        let milliseconds = rhs.wholeMilliseconds
        guard milliseconds >= 0 else {
            return WallClockInstant(millisecondsSinceEpoch: lhs.millisecondsSinceEpoch - min(lhs.millisecondsSinceEpoch, milliseconds.magnitude))
        }
        let (sum, overflow) = lhs.millisecondsSinceEpoch.addingReportingOverflow(UInt64(milliseconds))
        return WallClockInstant(millisecondsSinceEpoch: overflow ? .max : sum)
    }

    public static func - (lhs: WallClockInstant, rhs: Duration) -> WallClockInstant {
        lhs + (.zero - rhs)
    }

    /// How long after `rhs` `lhs` is; negative when it is before.
    public static func - (lhs: WallClockInstant, rhs: WallClockInstant) -> Duration {
        lhs >= rhs ? .milliseconds(lhs.millisecondsSinceEpoch - rhs.millisecondsSinceEpoch)
            : .zero - .milliseconds(rhs.millisecondsSinceEpoch - lhs.millisecondsSinceEpoch)
    }

    public var description: String { "\(millisecondsSinceEpoch) ms since the epoch" }
}
