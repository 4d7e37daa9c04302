extension AllReduceRound {
    /// A member applies what each owner sends as the average of its part, so a dishonest owner
    /// could write anything there: NaN, or values a thousand times the gradient. Once every part
    /// is in, a member checks each one against its own contribution to it: the average must be
    /// finite, and its L2 norm at most `Settings.normBoundFactor` times that of this member's
    /// own values of the part (an average of honest gradients is no longer than the longest of
    /// them, and the owner has bounded those against their median). A part failing the check is
    /// reported failed, so it is skipped like a part whose owner died.
    ///
    /// Only a non-finite average in a group of three or more blames its owner (dropped and
    /// banned at once): an honest owner never sends one, whatever the senders sent
    /// (`PartReducer.finalise` leaves out its own values that are not finite and sends zero for
    /// a value that overflows). A norm out of bound, or anything in a group of two,
    /// could be a hostile sender's doing (one just under the owner's bound, set against the
    /// member with the smallest gradient), so the part is skipped without blame; the owner is
    /// listed (`AllReduceResult.outOfBoundAverages`) for the caller to count across rounds. A member whose
    /// own values of the part are all zero has nothing to compare the norm with, and in a group
    /// of two neither side can tell which is off: both check finiteness only.
    ///
    /// Every member runs the same check on the same average, so a grossly bad part is skipped by
    /// all alike; one near the bound may pass for some members and not for others, and the state
    /// agreement after the round (`StateElection`) settles those members on one state.
    mutating func rejectBadAverages() -> [Action] {
        var actions: [Action] = []
        let judged = plan.members.count >= 3
        // An average of pseudo-gradients can be as long as the heaviest member's, which is
        // longer than this member's by their weights' ratio.
        let weights = plan.weights
        let growth = settings.normsGrowWithWeight && weights[ownIndex] > 0
            ? max(1, Double(weights.max() ?? 0) / Double(weights[ownIndex])) : 1
        for part in plan.parts.indices where part != ownIndex && !partFailed[part] && !failed[part] && !plan.parts[part].isEmpty {
            let norm = Self.norm(of: UnsafeBufferPointer(rebasing: vector[plan.parts[part]]))
            if !norm.isFinite {
                partFailed[part] = true
                guard judged else { continue }
                let reason = "sent an average of part \(part) that is not finite"
                failed[part] = true
                dropped.append(AllReduceResult.DroppedPeer(peer: plan.members[part].peer, reason: reason))
                actions.append(.banPeer(plan.members[part].peer, reason: reason))
            } else if judged && contributionNorms[part] > 0 && norm > Double(settings.normBoundFactor) * growth * contributionNorms[part] {
                partFailed[part] = true
                outOfBoundOwners.append(plan.members[part].peer)
            }
        }
        return actions
    }

    /// Whether this member waited for something from `member` and got none of it: no chunk of
    /// this member's part (when it owns one), and no average of the member's part (when the
    /// member owns one). False when this member expected nothing from it.
    func sentNothingExpected(_ member: Int) -> Bool {
        let expectedChunks = reducer != nil
        let expectedAverages = !averageReceived[member].isEmpty
        guard expectedChunks || expectedAverages else { return false }
        let noChunk = !expectedChunks || arrivals[member] == nil
        let noAverage = !expectedAverages || !averageReceived[member].contains(true)
        return noChunk && noAverage
    }

    /// L2 norm summed in float64; infinite or NaN when a value is.
    static func norm(of values: UnsafeBufferPointer<Float>) -> Double {
        var sum = 0.0
        for value in values {
            let widened = Double(value)
            sum += widened * widened
        }
        return sum.squareRoot()
    }
}
