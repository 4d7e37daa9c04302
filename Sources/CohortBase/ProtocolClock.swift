import Foundation

/// Both clocks read at one moment: what the shells hand the state machines with each event.
public struct ClockReading: Sendable, Equatable {
    /// For this process's own deadlines.
    public var monotonic: MonotonicInstant
    /// For what is compared with other peers' records.
    public var wall: WallClockInstant

    public init(monotonic: MonotonicInstant, wall: WallClockInstant) {
        self.monotonic = monotonic
        self.wall = wall
    }
}

/// Where the shells get the time: the system's clocks in a running peer, a `ManualClock` in
/// tests and the simulator, so that the same state machines run on either.
public protocol ProtocolClock: Sendable {
    func now() -> ClockReading
}

/// The system's clocks: uptime for monotonic instants, the Unix time for wall-clock ones.
public struct SystemClock: ProtocolClock {
    public init() {}

    public func now() -> ClockReading {
        ClockReading(monotonic: MonotonicInstant(nanoseconds: Int64(DispatchTime.now().uptimeNanoseconds)),
                     wall: WallClockInstant(millisecondsSinceEpoch: UInt64(max(0, Date().timeIntervalSince1970 * 1000))))
    }
}

/// A clock that moves only when told: both readings advance together.
///
/// A class, so that a test can hold the clock it gave a shell and move it. The lock makes it
/// `Sendable`; readings are cheap and rare enough that contention does not matter.
public final class ManualClock: ProtocolClock, @unchecked Sendable {
    private let lock = NSLock()
    private var reading: ClockReading

    /// Monotonic time starts at zero; wall-clock time at `wall`.
    public init(wall: WallClockInstant) {
        reading = ClockReading(monotonic: .zero, wall: wall)
    }

    public func now() -> ClockReading {
        lock.withLock { reading }
    }

    /// Moves both clocks on to the moment the monotonic one reads `monotonic` (a deadline a
    /// state machine asked to be woken at); never back.
    public func advance(to monotonic: MonotonicInstant) {
        advance(by: max(.zero, monotonic - now().monotonic))
    }

    /// Moves both clocks on by `duration`.
    public func advance(by duration: Duration) {
        lock.withLock {
            reading.monotonic = reading.monotonic + duration
            reading.wall = reading.wall + duration
        }
    }
}
