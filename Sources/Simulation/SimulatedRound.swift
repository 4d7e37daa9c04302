import CohortBase
import Averaging
import DHT
import Wire

/// An all-reduce round in the simulation: the members that reached it, and when it ends.
///
/// The round's time is the butterfly's traffic over each member's links (DeDLOC §3.1): a member
/// sends its chunks of the others' parts and receives the others' chunks of its own part, then
/// sends its part's average to every other member and receives theirs. Everybody waits for the
/// slowest member. A member of the plan that never arrives sends nothing: the others wait for it
/// until the sender deadline, leave it out, and skip its part, unless it is already past the
/// step, which it answers their first chunk with.
struct SimulatedRound {
    let plan: GroupPlan
    var arrivals: [PeerID: (volunteer: Int, time: MonotonicInstant)] = [:]
    var isFinished = false

    init(plan: GroupPlan) {
        self.plan = plan
    }

    var everyoneArrived: Bool { arrivals.count == plan.members.count }

    /// The members that have not arrived.
    var missing: [PeerID] {
        plan.members.map { $0.peer }.filter { arrivals[$0] == nil }
    }

    struct Outcome {
        var result: AllReduceResult
        var endsAt: MonotonicInstant
    }

    /// The round's end and each arrived member's result, as of `time` (all arrived, the
    /// missing ones past the step, or the sender deadline).
    func outcome(at time: MonotonicInstant, profiles: (Int) -> VolunteerProfile, bytesPerElement: Double,
                 pastTheRound: (PeerID) -> Bool) -> Outcome {
        let arrived = plan.members.enumerated().filter { arrivals[$0.element.peer] != nil }
        let missing = plan.members.enumerated().filter { arrivals[$0.element.peer] == nil }
        let vectorBytes = Double(plan.elementCount) * bytesPerElement
        let others = Double(max(arrived.count - 1, 0))
        var slowest = Duration.zero
        var bytesMoved = 0.0
        for (index, member) in arrived {
            let share = Double(plan.parts[index].count) / Double(plan.elementCount)
            let outbound = vectorBytes * (1 - share) + vectorBytes * share * others
            let inbound = vectorBytes * share * others + vectorBytes * (1 - share)
            let profile = profiles(arrivals[member.peer]!.volunteer)
            let sending = outbound * 8 / profile.uploadBitsPerSecond
            let receiving = inbound * 8 / profile.downloadBitsPerSecond
            slowest = max(slowest, .seconds(max(sending, receiving)) + profile.latency * 4)
            bytesMoved += outbound
        }
        let weights = ShareCap.capped(arrived.map(\.element.samples))
        let failedParts = missing.map { plan.parts[$0.offset] }.filter { !$0.isEmpty }
        let lastArrival = arrivals.values.map(\.time).max() ?? time
        let endsAt = max(lastArrival, time) + slowest
        var result = AllReduceResult(
            roundID: plan.id, participants: arrived.map(\.element.peer), leftOut: missing.map(\.element.peer),
            totalSamples: weights.reduce(0, +), bytesSent: Int(bytesMoved / Double(max(arrived.count, 1))),
            bytesReceived: Int(bytesMoved / Double(max(arrived.count, 1))), duration: .milliseconds(slowest.wholeMilliseconds),
            failedParts: failedParts, silent: missing.map(\.element.peer))
        let past = missing.map(\.element.peer).filter { pastTheRound($0) }
        result.pastTheRound = past
        result.plannedSamples = plan.weights.reduce(0, +)
        result.silent.removeAll(where: past.contains)
        return Outcome(result: result, endsAt: endsAt)
    }
}
