/// The hashes of a peer's own states, step by step, since it last loaded one: which of the
/// run's announcements at earlier steps are states it passed through on its way to its own.
///
/// A peer that stepped without the others (it could not gather them in time, or a partition
/// cut it off) holds a state of its own at its step. When it stepped ahead of them, the peers
/// still at the step it left hold another state of an earlier step, and comparing
/// announcements of the same step finds nothing wrong on either side: it would step alone
/// for good. Announcements of earlier steps that it did not pass through show the fork.
/// Only its own steps count: across a load it knows no earlier hashes, and says so.
struct StateLineage: Sendable {
    /// How many steps back a peer remembers; a fork older than that is no longer told apart.
    static let capacity = 64

    /// Oldest first, one per step, each the step after the one before.
    private var states: [(step: Int, hash: [UInt8])] = []

    /// What an announcement at an earlier step says about this peer's state.
    enum Relation: Equatable {
        /// A state this peer passed through (or holds): the announcer is on its branch.
        case passedThrough
        /// At a step this peer passed, but a state it did not: another branch.
        case anotherBranch
        /// A step this peer does not remember, or one it has not reached.
        case unknown
    }

    /// This peer now holds `hash` at `step`: the next state of its lineage when `step`
    /// follows the newest, else the first of a new one.
    mutating func record(step: Int, hash: [UInt8]) {
        if let newest = states.last, newest.step == step, newest.hash == hash { return }
        if let newest = states.last, newest.step + 1 == step {
            states.append((step, hash))
            if states.count > Self.capacity { states.removeFirst(states.count - Self.capacity) }
        } else {
            states = [(step, hash)]
        }
    }

    /// Forgets every state: the next one recorded starts a lineage. A loaded state's earlier
    /// hashes are unknown here, so nothing it descends from is taken for another branch.
    mutating func forget() {
        states.removeAll()
    }

    func relation(ofStep step: Int, hash: [UInt8]) -> Relation {
        guard let first = states.first, step >= first.step, step - first.step < states.count else { return .unknown }
        return states[step - first.step].hash == hash ? .passedThrough : .anotherBranch
    }
}
