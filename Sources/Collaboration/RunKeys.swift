import DHT

/// The DHT keys a collaborative run lives under. Every peer writes only its own subkey (its
/// peer id), so records from different peers never overwrite each other.
public struct RunKeys: Sendable, Equatable {
    public let runName: String

    public init(runName: String) { self.runName = runName }

    /// The well-known key a joining peer reads first: the coordinator's signed run config for
    /// every run on this DHT, one subkey per run name.
    public static let runs = RecordKey(hashing: "cohort/runs")

    /// Each training peer's `PeerProgress`, in a run of one shard.
    public var progress: RecordKey { RecordKey(hashing: "cohort/\(runName)/progress") }
    /// Each peer's `StateAnnouncement`: the step its state is at and where to download it, in
    /// a run of one shard.
    public var state: RecordKey { RecordKey(hashing: "cohort/\(runName)/state") }
    /// The `PeerProgress` of the training peers of `shard` (`RunShards`); `progress` when the
    /// run has one shard.
    public func progress(shard: Int, of shards: RunShards) -> RecordKey {
        shards.isSharded ? RecordKey(hashing: "cohort/\(runName)/progress/\(shard)") : progress
    }
    /// The `StateAnnouncement`s of the peers of `shard`; `state` when the run has one shard.
    public func state(shard: Int, of shards: RunShards) -> RecordKey {
        shards.isSharded ? RecordKey(hashing: "cohort/\(runName)/state/\(shard)") : state
    }
    /// Each shard reporter's `ShardTotal`, in a run of several shards.
    public var shardTotals: RecordKey { RecordKey(hashing: "cohort/\(runName)/progress/totals") }
    /// The coordinator's `StateAnnouncement` of the newest checkpoint it holds and serves, so
    /// that peers joining a run that all others have left go on from it. Peers take it only
    /// from the coordinator (the owner of the run config they verified).
    public var checkpoint: RecordKey { RecordKey(hashing: "cohort/\(runName)/checkpoint") }
    /// Averaging declarations for `step` from peers whose state hashes to `state` (Averaging's
    /// `Declaration`). Keying groups by state means that only peers holding the same state
    /// average together: a peer whose state drifted (a fault) finds none of the others here,
    /// and reloads the agreed state before its next round.
    public func declarations(step: Int, state: [UInt8]) -> RecordKey {
        declarations(MatchmakingKey(step: step, stateHash: state))
    }
    /// The leader's group plan for `step`, among peers whose state hashes to `state`.
    public func plan(step: Int, state: [UInt8]) -> RecordKey {
        plan(MatchmakingKey(step: step, stateHash: state))
    }
    /// The declarations of one bucket of a step (`MatchmakingKey`); with one bucket, the step's one key.
    public func declarations(_ key: MatchmakingKey) -> RecordKey {
        RecordKey(hashing: "cohort/\(runName)/step/\(key.step)/\(Self.hex(key.stateHash))/declare\(Self.bucketSuffix(key))")
    }
    /// The plans of the leaders of one bucket of a step.
    public func plan(_ key: MatchmakingKey) -> RecordKey {
        RecordKey(hashing: "cohort/\(runName)/step/\(key.step)/\(Self.hex(key.stateHash))/plan\(Self.bucketSuffix(key))")
    }

    private static func bucketSuffix(_ key: MatchmakingKey) -> String {
        key.buckets == 1 ? "" : "/\(key.buckets)/\(key.bucket)"
    }
    /// What each member saw of the round for `step` (`RoundReport`), read by the coordinator.
    public func round(step: Int) -> RecordKey { RecordKey(hashing: "cohort/\(runName)/step/\(step)/round") }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
