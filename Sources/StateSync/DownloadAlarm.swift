import CohortBase
import Averaging

/// The one timer a download shell keeps, at the newest `.wake(at:)` its machine asked for.
///
/// A machine asks for a wake after nearly every reply, and the time mostly moves later. Rather
/// than starting a sleeper per wake, the shell keeps the one it has when the new time is later:
/// that sleeper fires first and is then re-armed for the newest time, without bothering the
/// machine. Only a wake earlier than the armed sleeper needs a new sleeper (the old one's firing
/// is then ignored), so at most a couple sleep at once.
struct DownloadAlarm {
    /// A sleeper to start: it reports `generation` when `time` comes.
    struct Sleeper: Equatable {
        let time: MonotonicInstant
        let generation: Int
    }

    enum Firing: Equatable {
        /// Call the machine's `onDeadline`.
        case deadline
        /// A later wake replaced this one: start `Sleeper` instead.
        case rearm(Sleeper)
        /// A sleeper replaced by an earlier one, or fired after the wake was consumed.
        case ignored
    }

    private var wanted: MonotonicInstant?
    private var armed: Sleeper?
    private var generations = 0

    /// The machine asked to be woken at `time`; returns the sleeper to start, if one is needed.
    mutating func onWake(at time: MonotonicInstant) -> Sleeper? {
        wanted = time
        if let armed, armed.time <= time { return nil }
        return arm(at: time)
    }

    /// The sleeper of `generation` woke up.
    mutating func onFired(generation: Int) -> Firing {
        guard let fired = armed, fired.generation == generation, let wanted else { return .ignored }
        armed = nil
        guard wanted > fired.time else {
            self.wanted = nil
            return .deadline
        }
        return .rearm(arm(at: wanted))
    }

    private mutating func arm(at time: MonotonicInstant) -> Sleeper {
        generations += 1
        let sleeper = Sleeper(time: time, generation: generations)
        armed = sleeper
        return sleeper
    }
}
