import CohortBase
import Averaging
import Collaboration
import DHT
import Wire

/// The run's DHT records as the simulator keeps them, and what reading and writing them costs.
///
/// Values are kept per key and writer, as the DHT does (one record per writer's subkey); a read
/// returns every live value under the key. What a lookup costs comes from running the real
/// Kademlia state machines (`DHTSimulation`) at the run's size once: the hops and the queries
/// per get. Every read and write is charged those messages and the records' bytes, and the
/// bytes each key serves are kept, since one key read by everyone is what breaks first.
struct RecordBoard {
    /// The key a set of records lives under, for the per-key load.
    enum KeyKind: String, CaseIterable, Sendable {
        case progress, totals, state, checkpoint, declarations, plans, rounds
    }

    struct Costs {
        /// Round trips a lookup takes: its hops and the final request.
        var roundTrips: Double
        /// Requests one get or store sends.
        var requestsPerLookup: Double
        /// Replicas each store writes.
        var replicas: Double
        /// Bytes a record takes besides its value: key, subkey, owner key, signature, expiry.
        var recordOverheadBytes: Double = 32 + 32 + 32 + 64 + 8 + 16

        static func measured(nodes: Int, seed: UInt64) -> Costs {
            let report = DHTSimulation.run(nodes: max(nodes, 2), churn: 0, lookups: 200, seed: seed)
            return Costs(roundTrips: Double(report.hopsP50 + 1), requestsPerLookup: report.queriesPerGet,
                         replicas: Double(DHTNode.Settings().k))
        }
    }

    let costs: Costs
    /// The run's shards: progress records and state announcements are kept per shard.
    let shards: RunShards
    private var progress: [Int: [PeerID: PeerProgress]] = [:]
    private var totals: [PeerID: ShardTotal] = [:]
    private var state: [Int: [PeerID: StateAnnouncement]] = [:]
    private(set) var declarations: [MatchmakingKey: [PeerID: Declaration]] = [:]
    private(set) var plans: [MatchmakingKey: [PeerID: GroupPlan]] = [:]
    /// A key's records in writer order, kept until the key is written again.
    private var progressRecords: [Int: [OwnedRecord<PeerProgress>]] = [:]
    private var totalRecords: [OwnedRecord<ShardTotal>]?
    private var stateRecords: [Int: [OwnedRecord<StateAnnouncement>]] = [:]
    /// A key's records in writer order, kept until the key is written again: with a thousand
    /// volunteers every one reads a step's declarations many times between writes.
    private var declarationRecords: [MatchmakingKey: [OwnedRecord<Declaration>]] = [:]
    private var planRecords: [MatchmakingKey: [OwnedRecord<GroupPlan>]] = [:]
    /// DHT requests sent, and bytes served, per key kind.
    private(set) var requests = 0.0
    private(set) var bytesServed: [KeyKind: Double] = [:]

    init(costs: Costs, shards: RunShards) {
        self.costs = costs
        self.shards = shards
    }

    /// The time one lookup's round trips take for a volunteer whose one-way latency is
    /// `latency`, with the others' mean latency `typical`; each hop's processing comes on top
    /// (`RunSimulation.lookupTime`).
    func lookupTime(latency: Duration, typical: Duration) -> Duration {
        (latency + typical) * (costs.roundTrips * 2)
    }

    /// `keys`: how many keys of the kind the load spreads over at once (a step's declaration
    /// buckets), so that the kind's bytes are one key's.
    private mutating func charge(read kind: KeyKind, records: Int, valueBytes: Int, keys: Int = 1) {
        requests += costs.requestsPerLookup
        bytesServed[kind, default: 0] += Double(records) * (Double(valueBytes) + costs.recordOverheadBytes) / Double(keys)
    }

    private mutating func charge(write kind: KeyKind, valueBytes: Int, keys: Int = 1) {
        requests += costs.requestsPerLookup + costs.replicas
        bytesServed[kind, default: 0] += costs.replicas * (Double(valueBytes) + costs.recordOverheadBytes) / Double(keys)
    }

    mutating func write(progress value: PeerProgress, by writer: PeerID) {
        let shard = shards.shard(of: writer)
        progress[shard, default: [:]][writer] = value
        progressRecords[shard] = nil
        charge(write: .progress, valueBytes: 48)
    }

    mutating func write(total value: ShardTotal, by writer: PeerID) {
        totals[writer] = value
        totalRecords = nil
        charge(write: .totals, valueBytes: value.encoded.count)
    }

    /// The progress records of `reader`'s shard and, in a run of several shards, the shard totals.
    mutating func readProgress(by reader: PeerID) -> (records: [OwnedRecord<PeerProgress>], totals: [OwnedRecord<ShardTotal>]) {
        let shard = shards.shard(of: reader)
        let records = progressRecords[shard] ?? Self.sorted(progress[shard] ?? [:])
        progressRecords[shard] = records
        charge(read: .progress, records: records.count, valueBytes: 48)
        guard shards.isSharded else { return (records, []) }
        let totals = totalRecords ?? Self.sorted(totals)
        totalRecords = totals
        charge(read: .totals, records: totals.count, valueBytes: 17 + 2 * 32)
        return (records, totals)
    }

    mutating func write(state value: StateAnnouncement, by writer: PeerID) {
        let shard = shards.shard(of: writer)
        state[shard, default: [:]][writer] = value
        stateRecords[shard] = nil
        charge(write: .state, valueBytes: 80)
    }

    /// The state announcements of `shard`.
    mutating func readState(shard: Int) -> [OwnedRecord<StateAnnouncement>] {
        let records = stateRecords[shard] ?? Self.sorted(state[shard] ?? [:])
        stateRecords[shard] = records
        charge(read: .state, records: records.count, valueBytes: 80)
        return records
    }

    mutating func readCheckpoint() -> [OwnedRecord<StateAnnouncement>] {
        charge(read: .checkpoint, records: 0, valueBytes: 0)
        return []
    }

    mutating func write(declaration: Declaration, under key: MatchmakingKey, by writer: PeerID) {
        declarations[key, default: [:]][writer] = declaration
        declarationRecords[key] = nil
        charge(write: .declarations, valueBytes: 80, keys: key.buckets)
    }

    mutating func write(plan: GroupPlan, under key: MatchmakingKey, by writer: PeerID) {
        plans[key, default: [:]][writer] = plan
        planRecords[key] = nil
        charge(write: .plans, valueBytes: 48 + 80 * plan.members.count, keys: key.buckets)
    }

    mutating func readMatchmaking(_ key: MatchmakingKey) -> (plans: [OwnedRecord<GroupPlan>], declarations: [OwnedRecord<Declaration>]) {
        let plans = planRecords[key] ?? Self.sorted(plans[key] ?? [:])
        let declarations = declarationRecords[key] ?? Self.sorted(declarations[key] ?? [:])
        planRecords[key] = plans
        declarationRecords[key] = declarations
        charge(read: .plans, records: plans.count, valueBytes: 48 + 80 * (plans.first?.value.members.count ?? 0), keys: key.buckets)
        charge(read: .declarations, records: declarations.count, valueBytes: 80, keys: key.buckets)
        return (plans, declarations)
    }

    mutating func writeRoundReport() {
        charge(write: .rounds, valueBytes: 100)
    }

    /// Forgets the matchmaking records of steps before `step`: their records expire in the DHT.
    mutating func forgetMatchmaking(before step: Int) {
        declarations = declarations.filter { $0.key.step >= step }
        plans = plans.filter { $0.key.step >= step }
        declarationRecords = declarationRecords.filter { $0.key.step >= step }
        planRecords = planRecords.filter { $0.key.step >= step }
    }

    /// The busiest key and the bytes it served: a kind's bytes over the keys it spreads over at
    /// once (one per shard for progress and state, one per bucket for declarations and plans,
    /// one otherwise).
    var hottestKey: (kind: KeyKind, bytes: Double)? {
        KeyKind.allCases.map { kind in
            (kind, (bytesServed[kind] ?? 0) / Double([.progress, .state].contains(kind) ? shards.count : 1))
        }.max { $0.1 < $1.1 }
    }

    /// Bytes served over every key, summed in a fixed order so that a seed gives the same sum.
    var totalBytesServed: Double {
        KeyKind.allCases.map { bytesServed[$0] ?? 0 }.reduce(0, +)
    }

    /// A key's values in writer order: the DHT's order is its own, but a seed must give one run.
    private static func sorted<Value>(_ values: [PeerID: Value]) -> [OwnedRecord<Value>] {
        values.sorted { $0.key < $1.key }.map { OwnedRecord(writer: $0.key, value: $0.value) }
    }
}
