/// Splits the flat vector into one contiguous part per group member, proportional to bandwidth,
/// leaving out owners whose link is so slow that owning anything would lengthen the round.
///
/// DeDLOC §3.1 gives each peer a share of the all-reduce that follows its network speed, and
/// peers that cannot accept connections (client mode) a share of zero; hivemind's
/// `averaging/load_balancing.py` finds the shares with a linear program. In a group of N an owner
/// of p elements of a V-element vector moves V + (N − 2)·p each way (its own vector less its
/// part out, its part's averages to the N − 1 others), so a slow link gains nothing from owning,
/// and its part holds every other member up: measured on 100/50/50/20 Mbit/s links (docs/benchmarks.md),
/// the 20 Mbit/s member's proportional part made the round 1.2× longer than its own vector
/// alone. Cohort keeps proportional shares (simple to verify: every member recomputes and checks
/// the plan) and leaves out what the linear program would: an owner below half the owners'
/// median whose link, by that count, is slower than the others' share of the work
/// (`standingAside`). The median bounds what liars can do to honest owners, as `ShareCap` does.
///
/// The split is computed with integer arithmetic only (largest remainder method, ties to the
/// earlier member), so every member derives bit-for-bit the same plan from the same inputs, and
/// the parts tile `0..<elementCount` exactly.
///
/// On the grid, the vector is first cut into `gridParts` equal grid parts, whatever the group,
/// and the owners share out whole grid parts. Several groups of one step then cut the vector at
/// the same boundaries, so that the owners of grid part p in every group can average it among
/// themselves (docs/protocol.md, "Several groups in one step"). The price is coarser shares: an
/// owner's part is off its proportional share by up to one grid part, which is why a run of one
/// group per step keeps exact shares.
public enum LoadBalancing {
    /// Grid parts a vector is cut into for plans on the grid: a step of several groups averages
    /// each grid part among its owners across groups.
    public static let gridParts = 64

    /// Grid part `index`'s elements of a vector of `elementCount`: the grid parts are as equal
    /// as whole elements allow and tile the vector, the earlier ones the smaller.
    public static func gridPart(_ index: Int, elementCount: Int) -> Range<Int> {
        precondition((0..<gridParts).contains(index), "grid part \(index) is outside 0..<\(gridParts)")
        return gridBoundary(index, elementCount: elementCount)..<gridBoundary(index + 1, elementCount: elementCount)
    }

    /// The grid parts with elements that lie in `part`, as bits (bit g for grid part g): a
    /// part of a plan on the grid is a run of them. Grid parts without elements (of a vector
    /// shorter than the grid) lie in none.
    public static func gridParts(in part: Range<Int>, elementCount: Int) -> UInt64 {
        (0..<gridParts).reduce(0) { bits, index in
            let gridPart = gridPart(index, elementCount: elementCount)
            return !gridPart.isEmpty && part.contains(gridPart.lowerBound) ? bits | 1 << UInt64(index) : bits
        }
    }

    /// Where grid part `index` starts; `elementCount` for `gridParts`. Vectors are at most
    /// `GroupPlan.maxElementCount` (2⁴⁰) long, so the product cannot overflow.
    static func gridBoundary(_ index: Int, elementCount: Int) -> Int {
        index * elementCount / gridParts
    }

    /// Returns one range per member, in member order; client-mode members and owners that stand
    /// aside get an empty range at the boundary where they would be. Members that accept
    /// connections but all announce zero bandwidth share equally. A bandwidth counts for at most
    /// `ShareCap.medianMultiple` times the owners' median, so no member wins the vector by
    /// declaring a huge one. Returns nil when every member is in client mode. `onGrid`: every
    /// range is a run of whole grid parts.
    public static func partition(elementCount: Int, bandwidths: [UInt64], clientMode: [Bool], onGrid: Bool = false) -> [Range<Int>]? {
        precondition(bandwidths.count == clientMode.count, "\(bandwidths.count) bandwidths for \(clientMode.count) members")
        precondition(elementCount >= 0, "negative element count \(elementCount)")
        let owners = clientMode.indices.filter { !clientMode[$0] }
        guard !owners.isEmpty else { return nil }
        var weights = ShareCap.capped(bandwidths.indices.map { clientMode[$0] ? UInt64(0) : bandwidths[$0] })
        if owners.allSatisfy({ weights[$0] == 0 }) {
            for owner in owners { weights[owner] = 1 }
        }
        for owner in standingAside(weights: weights, memberCount: bandwidths.count) { weights[owner] = 0 }
        guard onGrid else {
            var start = 0
            return shares(of: UInt64(elementCount), weights: weights).map { size in
                defer { start += Int(size) }
                return start..<(start + Int(size))
            }
        }
        var firstGridPart = 0
        return shares(of: UInt64(gridParts), weights: weights).map { count in
            defer { firstGridPart += Int(count) }
            return gridBoundary(firstGridPart, elementCount: elementCount)..<gridBoundary(firstGridPart + Int(count), elementCount: elementCount)
        }
    }

    /// The owners (indices with positive weight) that own nothing: slowest first, while the
    /// slowest left is below half the owners' lower median and, with k owners left whose
    /// weights sum to B, (N − 2 + k) × its weight ≤ B. That is where the linear program's round
    /// time, V·(N − 2 + k) ⁄ B with every one of the k owning, is no shorter than its link takes
    /// to move its own vector alone (V ⁄ its weight), so any part it owns makes it the slowest.
    /// With two members, owning costs nobody anything, and nobody stands aside.
    static func standingAside(weights: [UInt64], memberCount: Int) -> [Int] {
        var owners = weights.indices.filter { weights[$0] > 0 }.sorted { (weights[$0], $0) < (weights[$1], $1) }
        guard memberCount > 2, owners.count > 1, let median = ShareCap.lowerMedian(ofPositive: weights),
              var sum = checkedSum(of: weights) else { return [] }
        var aside: [Int] = []
        while owners.count > 1, let slowest = owners.first, weights[slowest] < median - median / 2 {
            let (cost, overflow) = weights[slowest].multipliedReportingOverflow(by: UInt64(memberCount - 2 + owners.count))
            guard !overflow, cost <= sum else { break }
            aside.append(slowest)
            sum -= weights[slowest]
            owners.removeFirst()
        }
        return aside
    }

    /// The weights' sum; nil where it overflows.
    static func checkedSum(of weights: [UInt64]) -> UInt64? {
        var sum: UInt64 = 0
        for weight in weights {
            let (next, overflow) = sum.addingReportingOverflow(weight)
            guard !overflow else { return nil }
            sum = next
        }
        return sum
    }

    /// Largest remainder apportionment of `total` by `weights` (not all zero).
    static func shares(of total: UInt64, weights: [UInt64]) -> [UInt64] {
        guard let weightSum = checkedSum(of: weights) else { preconditionFailure("bandwidth sum overflows: \(weights)") }
        var quotients: [UInt64] = []
        var remainders: [UInt64] = []
        for weight in weights {
            let (quotient, remainder) = weightSum.dividingFullWidth(total.multipliedFullWidth(by: weight))
            quotients.append(quotient)
            remainders.append(remainder)
        }
        let leftover = Int(total - quotients.reduce(0, +))
        let byRemainder = weights.indices
            .filter { weights[$0] > 0 }
            .sorted { remainders[$0] != remainders[$1] ? remainders[$0] > remainders[$1] : $0 < $1 }
        for index in byRemainder.prefix(leftover) {
            quotients[index] += 1
        }
        return quotients
    }
}
