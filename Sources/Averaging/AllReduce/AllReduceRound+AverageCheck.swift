extension AllReduceRound {
    /// A member applies what each owner sends as the average of its part, so a dishonest owner
    /// could write anything there: NaN, or values a thousand times the gradient. Once every part
    /// is in, a member checks each one against its own contribution to it: the average must be
    /// finite, and its L2 norm at most `Settings.normBoundFactor` times that of this member's
    /// own values of the part (an average of honest gradients is no longer than the longest of
    /// them, and the owner has bounded those against their median). A part failing the check is
    /// reported failed, so it is skipped like a part whose owner died, and its owner dropped.
    /// A member whose own values of the part are all zero has nothing to compare with, and in a
    /// group of two the member's own values cannot tell which of the two is off (as for the
    /// owner's bound): both check finiteness only.
    ///
    /// Every member runs the same check on the same average, so a grossly bad part is skipped by
    /// all alike; one near the bound may pass for some members and not for others, and the state
    /// agreement after the round (`RoundAgreement`) settles those members on one state.
    mutating func rejectBadAverages() -> [Action] {
        var actions: [Action] = []
        for part in plan.parts.indices where part != ownIndex && !partFailed[part] && !failed[part] && !plan.parts[part].isEmpty {
            let norm = Self.norm(of: UnsafeBufferPointer(rebasing: vector[plan.parts[part]]))
            let bound = Double(settings.normBoundFactor) * contributionNorms[part]
            let reason: String
            if !norm.isFinite {
                reason = "sent an average of part \(part) that is not finite"
            } else if plan.members.count >= 3 && contributionNorms[part] > 0 && norm > bound {
                reason = "sent an average of part \(part) with norm \(norm), above \(settings.normBoundFactor) times this member's own (\(contributionNorms[part]))"
            } else {
                continue
            }
            partFailed[part] = true
            failed[part] = true
            dropped.append(AllReduceResult.DroppedPeer(peer: plan.members[part].peer, reason: reason))
            actions.append(.dropPeer(plan.members[part].peer, reason: reason))
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
