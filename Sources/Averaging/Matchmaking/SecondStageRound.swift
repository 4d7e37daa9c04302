import CohortBase

/// One round of a step's second stage: the owners, one per listed group, of a run of grid
/// parts that the same owners hold in every group, averaging it weighted by their groups'
/// weights. Owners of consecutive grid parts in every group average them in one round: fewer
/// rounds, and plans that differ, so their ids name distinct rounds.
public struct SecondStageRound: Hashable, Sendable {
    /// The grid parts with elements the round averages, as bits (`LoadBalancing.gridParts`).
    public let gridParts: UInt64
    /// Their elements in the step's vector.
    public let elements: Range<Int>
    /// The round's plan: its members declare their groups' weights as samples.
    public let plan: GroupPlan
}

extension StepGroupList {
    /// What the second stage of the step is, as every owner derives it from this list and the
    /// groups' listings (by leader).
    public enum SecondStage: Hashable, Sendable {
        /// One group takes the step: its average is the step's.
        case notNeeded
        case rounds([SecondStageRound])
        /// A listed group has no listing that matches the list, or listings that do not fit the
        /// vector: no owner can run the second stage, and every listed group skips the step's
        /// grid parts alike.
        case unavailable(String)
    }

    public func secondStage(elementCount: Int, listings: [PeerID: GroupListing]) -> SecondStage {
        var ordered: [GroupListing] = []
        for entry in entries {
            guard let listing = listings[entry.leader], listing.step == step, listing.planID == entry.planID,
                  listing.memberCount == entry.memberCount, listing.weight == entry.weight,
                  listing.digest == entry.listingDigest else {
                return .unavailable("no listing of the group led by \(entry.leader.shortDescription) matches the step's list")
            }
            ordered.append(listing)
        }
        guard ordered.count > 1 else { return .notNeeded }
        var rounds: [SecondStageRound] = []
        var run: (owners: [Int], first: Int, last: Int, bits: UInt64)?
        func close() -> Bool {
            guard let open = run else { return true }
            run = nil
            let elements = LoadBalancing.gridPart(open.first, elementCount: elementCount).lowerBound
                ..< LoadBalancing.gridPart(open.last, elementCount: elementCount).upperBound
            let members = zip(ordered, open.owners).map { listing, owner in
                Declaration(step: step, peer: listing.owners[owner].peer, address: listing.owners[owner].address,
                            bandwidth: listing.owners[owner].bandwidth, clientMode: false, samples: listing.weight)
            }
            guard let plan = GroupPlan(step: step, elementCount: elements.count, members: members) else { return false }
            rounds.append(SecondStageRound(gridParts: open.bits, elements: elements, plan: plan))
            return true
        }
        for index in 0..<LoadBalancing.gridParts {
            let hasElements = !LoadBalancing.gridPart(index, elementCount: elementCount).isEmpty
            let owners = ordered.map { $0.gridOwners[index] }
            guard owners.allSatisfy({ ($0 != nil) == hasElements }) else {
                return .unavailable("the listings do not cut a vector of \(elementCount) elements on the grid")
            }
            // A grid part without elements (a vector shorter than the grid) neither joins nor
            // ends a run: two runs of the same owners would be two rounds of one id.
            guard hasElements else { continue }
            let tuple = owners.compactMap { $0 }
            if let open = run, open.owners == tuple {
                run!.last = index
                run!.bits |= 1 << UInt64(index)
                continue
            }
            guard close() else { return .unavailable("the owners of the grid parts before \(index) do not form a round") }
            run = (tuple, index, index, 1 << UInt64(index))
        }
        guard close() else { return .unavailable("the owners of the last grid parts do not form a round") }
        return .rounds(rounds)
    }
}
