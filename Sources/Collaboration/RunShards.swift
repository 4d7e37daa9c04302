import CohortBase

/// How a run splits its progress records and state announcements over DHT keys.
///
/// With one key for all, every volunteer reads every other volunteer's record every progress
/// interval: the work grows with the square of the run, and past 4,096 peers a DHT reply cannot
/// even hold the key (`WireLimits.maxRecordsPerMessage`). With shards, a volunteer writes and
/// reads whole only its own shard's keys, and learns the rest of the run from the other shards'
/// totals (`ShardTotal`), a few records each. The count is the run's (`RunConfig.shards`), so
/// every peer files every other one under the same shard.
public struct RunShards: Sendable, Equatable, Hashable, Codable {
    public let count: Int

    /// The largest shard count a run may have: the totals key then holds at most 3 × 1,024
    /// records, within what one DHT reply carries (`WireLimits.maxRecordsPerMessage`).
    public static let maxCount = 1024
    /// The single shard: the one progress key and one state key of every run before shards.
    public static let one = RunShards(uncheckedCount: 1)

    /// `count` shards: 1, or a power of two in 4…`maxCount`. Two are refused: each shard counts
    /// for at most twice the median shard, and of two the median is the smaller, so a shard
    /// whose reporters lie would count for two thirds of the run.
    public init(count: Int) throws(RunShards.Error) {
        guard count == 1 || (count >= 4 && count <= Self.maxCount && count & (count - 1) == 0) else {
            throw Error(description: "shards must be 1 or a power of two in 4…\(Self.maxCount), got \(count)")
        }
        self.count = count
    }

    private init(uncheckedCount: Int) {
        count = uncheckedCount
    }

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public var isSharded: Bool { count > 1 }

    /// Encoded as the count alone; decoding checks it.
    public init(from decoder: any Decoder) throws {
        let count = try decoder.singleValueContainer().decode(Int.self)
        do { try self.init(count: count) } catch { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(count)
    }

    /// The shard `peer` belongs to: its id's first four bytes, modulo the count.
    public func shard(of peer: PeerID) -> Int {
        Int(UInt32(truncatingIfNeeded: peer.words.0 >> 32) % UInt32(count))
    }

    /// Declarers per bucket a run aims at: a bucket's group then holds them all
    /// (`Matchmaker.Settings.maxGroupSize` is 64) with room for the bucket's share to vary.
    public static let declarersPerBucket = 32

    /// The declaration buckets of a step of about `runPeers` declarers: the largest power of
    /// two with at least `declarersPerBucket` declarers each, and at most one per shard; one in
    /// a run of one shard.
    public func declarationBuckets(runPeers: Int) -> Int {
        var buckets = 1
        while buckets * 2 <= count && buckets * 2 * Self.declarersPerBucket <= runPeers { buckets *= 2 }
        return buckets
    }

    /// The matchmaking key of `peer` declaring for `step` from `stateHash` in a step of about
    /// `runPeers` declarers: its bucket is its shard modulo the buckets, so that a bucket
    /// gathers whole shards.
    public func matchmakingKey(of peer: PeerID, step: Int, stateHash: [UInt8], runPeers: Int) -> MatchmakingKey {
        let buckets = declarationBuckets(runPeers: runPeers)
        return MatchmakingKey(step: step, stateHash: stateHash, bucket: shard(of: peer) % buckets, buckets: buckets)
    }

    /// Members of a shard whose totals the other shards read: the shard's lowest live ids. A
    /// reader takes the median of their totals, so one liar among them moves nothing.
    public static let reportersPerShard = 3
}
