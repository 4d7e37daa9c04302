import Foundation

/// What a simulated run measured; every figure is reproducible from the run's seed.
public struct DHTSimulationReport: Codable, Equatable, Sendable {
    public var nodes: Int
    /// Bucket size and replicas (Kademlia's k) and queries in flight per lookup (α).
    public var k: Int
    public var alpha: Int
    public var churn: Double
    /// Nodes removed after the records were stored.
    public var removedNodes: Int
    /// Records stored before the removal.
    public var records: Int
    /// Of them, records the writer could place on at least one peer.
    public var recordsPlaced: Int
    /// Gets issued after the removal.
    public var lookups: Int
    /// Gets that returned the record they looked for.
    public var successes: Int
    public var successRate: Double
    /// Lookup hops (rounds) of the gets, percentiles over all gets.
    public var hopsP50: Int
    public var hopsP90: Int
    public var hopsP99: Int
    public var hopsMax: Int
    /// The target bound 2·log2(N)/log2(k) + 2 for p99 hops.
    public var hopsBound: Double
    /// Mean queries one get sent.
    public var queriesPerGet: Double
    /// Requests sent over the whole run, and of them the ones that timed out.
    public var requests: Int
    public var timeouts: Int
    /// Mean routing-table size of the live nodes at the end.
    public var meanRoutingTableSize: Double
    /// Virtual time the run took, in seconds.
    public var virtualSeconds: Double

    enum CodingKeys: String, CodingKey {
        case nodes, k, alpha, churn, records, lookups, successes, requests, timeouts
        case removedNodes = "removed_nodes"
        case recordsPlaced = "records_placed"
        case successRate = "success_rate"
        case hopsP50 = "hops_p50"
        case hopsP90 = "hops_p90"
        case hopsP99 = "hops_p99"
        case hopsMax = "hops_max"
        case hopsBound = "hops_bound"
        case queriesPerGet = "queries_per_get"
        case meanRoutingTableSize = "mean_routing_table_size"
        case virtualSeconds = "virtual_seconds"
    }

    /// The value at quantile `q` of `sorted` (nearest rank), 0 when empty.
    static func percentile(_ sorted: [Int], _ q: Double) -> Int {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count, max(1, rank)) - 1]
    }
}
