/// Splits the flat vector into one contiguous part per group member, proportional to bandwidth.
///
/// DeDLOC §3.1 gives each peer a share of the all-reduce that follows its network speed, and
/// peers that cannot accept connections (client mode) a share of zero; hivemind's
/// `averaging/load_balancing.py` finds the shares with a linear program. Cohort uses plain
/// proportional shares: simpler to verify, and every member can recompute and check the plan.
///
/// The split is computed with integer arithmetic only (largest remainder method, ties to the
/// earlier member), so every member derives bit-for-bit the same plan from the same inputs, and
/// the parts tile `0..<elementCount` exactly.
public enum LoadBalancing {
    /// Returns one range per member, in member order; client-mode members get an empty range at
    /// the boundary where they would be. Members that accept connections but all announce zero
    /// bandwidth share equally. A bandwidth counts for at most `ShareCap.medianMultiple` times
    /// the owners' median, so no member wins the vector by declaring a huge one. Returns nil when
    /// every member is in client mode.
    public static func partition(elementCount: Int, bandwidths: [UInt64], clientMode: [Bool]) -> [Range<Int>]? {
        precondition(bandwidths.count == clientMode.count, "\(bandwidths.count) bandwidths for \(clientMode.count) members")
        precondition(elementCount >= 0, "negative element count \(elementCount)")
        let owners = clientMode.indices.filter { !clientMode[$0] }
        guard !owners.isEmpty else { return nil }
        var weights = ShareCap.capped(bandwidths.indices.map { clientMode[$0] ? UInt64(0) : bandwidths[$0] })
        if owners.allSatisfy({ weights[$0] == 0 }) {
            for owner in owners { weights[owner] = 1 }
        }
        let sizes = shares(of: UInt64(elementCount), weights: weights)
        var start = 0
        return sizes.map { size in
            defer { start += Int(size) }
            return start..<(start + Int(size))
        }
    }

    /// Largest remainder apportionment of `total` by `weights` (not all zero).
    static func shares(of total: UInt64, weights: [UInt64]) -> [UInt64] {
        var weightSum: UInt64 = 0
        for weight in weights {
            let (sum, overflow) = weightSum.addingReportingOverflow(weight)
            precondition(!overflow, "bandwidth sum overflows: \(weights)")
            weightSum = sum
        }
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
