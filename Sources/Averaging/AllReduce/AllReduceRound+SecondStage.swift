import CohortBase

/// The second stage of a step of several groups (docs/protocol.md, "Several groups in one
/// step"): the owners of a grid part in every group average their groups' averages of it, so
/// that every member of every group ends with the average over all of them. The round only
/// pauses for it; the shell runs it (an ordinary round among those owners, over the grid part).
///
/// A grid part whose second stage failed is left out by every member of every group alike, as
/// a failed part is in one group: its owners say so (`PartSkipped`), and the members add it to
/// the round's failed parts.
extension AllReduceRound {
    enum SecondStage: Hashable, Sendable {
        /// The owner's chunks are still being reduced (or the round has no second stage).
        case reducing
        /// The owner reduced its part and said so (`Action.partReduced`).
        case awaiting
        /// The part's averages went out, or the part was given up.
        case done
    }

    /// The grid parts (as bits) that lie in `member`'s part; none off the grid.
    func gridParts(ofPart member: Int) -> UInt64 {
        plan.onGrid ? LoadBalancing.gridParts(in: plan.parts[member], elementCount: plan.elementCount) : 0
    }

    /// The shell wrote the average across groups over this owner's part, except over the grid
    /// parts in `skipping` (as bits), whose second stage failed: send the part to the group,
    /// and say which grid parts its members leave out. With compression the owner encodes the
    /// averages again and keeps their decoding, as members will. Bits of grid parts outside
    /// this owner's part are ignored: the shell derives them from other peers' listings.
    public mutating func onPartAveraged(skipping: UInt64 = 0, now: MonotonicInstant) -> [Action] {
        guard !isFinished, secondStage == .awaiting, reducer != nil else { return [] }
        let own = gridParts(ofPart: ownIndex)
        let skipped = skipping & own
        guard skipped != own || own == 0 else { return onPartSkipped(now: now) }
        secondStage = .done
        skippedGridParts |= skipped
        let recipients = otherMembersStillIn
        var actions: [Action] = skipped == 0 || recipients.isEmpty ? [] : [.sendPartSkipped(part: ownIndex, gridParts: skipped, to: recipients)]
        for chunk in 0..<reducer!.layout.chunkCount {
            reducer!.encodeAverage(of: chunk, vector: vector)
            actions += sendAverage(of: chunk)
        }
        return actions + finishIfDone(now: now)
    }

    /// The second stage failed for the whole of this owner's part: every member of the group
    /// leaves it out (as every owner of those grid parts in the other groups has its members do).
    public mutating func onPartSkipped(now: MonotonicInstant) -> [Action] {
        guard !isFinished, secondStage == .awaiting else { return [] }
        secondStage = .done
        partFailed[ownIndex] = true
        let recipients = otherMembersStillIn
        return (recipients.isEmpty ? [] : [.sendPartSkipped(part: ownIndex, gridParts: gridParts(ofPart: ownIndex), to: recipients)])
            + finishIfDone(now: now)
    }

    /// `owner` says the second stage failed for some grid parts of its part: leave them out
    /// (the whole part, when they are all of it) instead of using or waiting for its averages.
    /// Only the part's owner can skip grid parts of it, once, before any of its averages came,
    /// and only in a round with a second stage: anything else broke the protocol.
    public mutating func onPartSkipped(_ message: PartSkipped, from owner: PeerID, now: MonotonicInstant) -> [Action] {
        guard !isFinished, message.roundID == plan.id else { return [] }
        guard let ownerIndex = plan.index(of: owner), ownerIndex != ownIndex else {
            return [.dropPeer(owner, reason: "skipped a part of round \(plan.id) but is not another member of it")]
        }
        guard !failed[ownerIndex], !partFailed[ownerIndex] else { return [] }
        let ownerGridParts = gridParts(ofPart: ownerIndex)
        guard settings.averagesPartAcrossGroups, message.part == ownerIndex, message.gridParts != 0,
              message.gridParts & ~ownerGridParts == 0, message.gridParts & skippedGridParts == 0,
              averagesMissing[ownerIndex] == averageReceived[ownerIndex].count else {
            return misbehaved(ownerIndex, "skipped grid parts \(message.gridParts) of part \(message.part) of round \(plan.id), "
                                  + "which it cannot skip", now: now)
        }
        if message.gridParts == ownerGridParts {
            partFailed[ownerIndex] = true
        } else {
            skippedGridParts |= message.gridParts
        }
        return finishIfDone(now: now)
    }

    /// The element ranges of the grid parts skipped in parts that did not fail whole.
    var skippedRanges: [Range<Int>] {
        (0..<LoadBalancing.gridParts).filter { skippedGridParts & (1 << UInt64($0)) != 0 }
            .map { LoadBalancing.gridPart($0, elementCount: plan.elementCount) }
    }
}
