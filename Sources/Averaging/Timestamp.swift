/// A point in monotonic time, injected by the caller: the state machines never read a clock.
///
/// The node shell converts from its clock (nanoseconds since any fixed origin); tests use a
/// virtual clock that starts at zero. DESIGN.md "Principles" 1.
public struct Timestamp: Comparable, Hashable, Sendable {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = Timestamp(nanoseconds: 0)

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(nanoseconds: lhs.nanoseconds + rhs.wholeNanoseconds)
    }

    public static func - (lhs: Timestamp, rhs: Timestamp) -> Duration {
        .nanoseconds(lhs.nanoseconds - rhs.nanoseconds)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (attoseconds truncated).
    var wholeNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// Seconds as a Double, for rates and messages.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }

    /// "15 s", "2.5 s", "250 ms": how a person reads a timeout.
    var humanReadable: String {
        let seconds = self.seconds
        if seconds < 1 {
            return "\(Int((seconds * 1000).rounded())) ms"
        }
        if seconds == seconds.rounded() {
            return "\(Int(seconds)) s"
        }
        return "\((seconds * 10).rounded() / 10) s"
    }
}
