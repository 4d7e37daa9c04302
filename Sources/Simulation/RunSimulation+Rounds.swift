import Averaging
import CohortBase
import DHT
import Wire

/// The all-reduce rounds of a simulated run: members reach a plan's round, which ends when all
/// of them are there (or the missing ones are past the step), or at the sender deadline.
extension RunSimulation {
    func join(_ plan: GroupPlan, volunteer: Int, at arrival: MonotonicInstant) {
        var round = rounds[plan.id] ?? SimulatedRound(plan: plan)
        guard !round.isFinished else {
            // The others finished without it: it waited for them in vain until the deadline.
            let result = AllReduceResult(roundID: plan.id, participants: [], leftOut: plan.members.map(\.peer), totalSamples: 0,
                                         bytesSent: 0, bytesReceived: 0, duration: .seconds(settings.averagingTimeoutSeconds),
                                         failedParts: plan.parts.filter { !$0.isEmpty }, silent: [])
            schedule(.roundEnded(volunteer: volunteer, incarnation: volunteers[volunteer].incarnation, result),
                     at: arrival + .seconds(settings.averagingTimeoutSeconds))
            return
        }
        if round.arrivals.isEmpty {
            schedule(.roundDeadline(planID: plan.id), at: arrival + .seconds(settings.averagingTimeoutSeconds * 0.7))
        }
        round.arrivals[volunteers[volunteer].id] = (volunteer, arrival)
        rounds[plan.id] = round
        if round.everyoneArrived || round.missing.allSatisfy(isPastTheRound(plan)) {
            finishRound(plan.id)
        }
    }

    /// Whether `member` is online and already past the plan's step: it refuses the round's
    /// chunks within a round trip (`TransportErrorCode.pastTheRound`) instead of the members
    /// waiting for it until the sender deadline.
    private func isPastTheRound(_ plan: GroupPlan) -> (PeerID) -> Bool {
        { member in self.index[member].map { self.volunteers[$0].isOnline && self.volunteers[$0].stateStep > Int(plan.step) } ?? false }
    }

    func finishRound(_ planID: UInt64) {
        guard var round = rounds[planID], !round.isFinished else { return }
        round.isFinished = true
        rounds[planID] = round
        let outcome = round.outcome(at: time, profiles: { self.volunteers[$0].profile }, bytesPerElement: settings.bytesPerElement,
                                    pastTheRound: isPastTheRound(round.plan))
        let members = round.arrivals.values.map(\.volunteer).sorted()
        guard let first = members.first else { return }
        let newHash = StateHashes.mixed(volunteers[first].stateHash, planID, UInt64(outcome.result.failedParts.count))
        if outcome.result.participants.count >= 2 {
            metrics.groupRounds += 1
            metrics.groupMembers += outcome.result.participants.count
            metrics.groupSamples += Double(outcome.result.totalSamples)
            metrics.roundTime += outcome.endsAt - (round.arrivals.values.map(\.time).min() ?? time)
        }
        metrics.averagingBytes += Double(outcome.result.bytesSent) * Double(members.count)
        let participants = Set(outcome.result.participants.map(\.bytes))
        for member in members where outcome.result.participants.count >= 2 && participants.contains(volunteers[member].id.bytes) {
            if let loaded = volunteers[member].firstLoadedStep, volunteers[member].stepsFromLoadToRound == nil {
                volunteers[member].stepsFromLoadToRound = Int(round.plan.step) - loaded
            }
        }
        for member in members {
            volunteers[member].roundResultHash = newHash
            schedule(.roundEnded(volunteer: member, incarnation: volunteers[member].incarnation, outcome.result), at: outcome.endsAt)
        }
        board.forgetMatchmaking(before: round.plan.step > 2 ? Int(round.plan.step) - 2 : 0)
    }
}
