/// Where a step's declarations and plans are stored (`RunKeys.declarations(_:)`, `plan(_:)`):
/// under the step and the state the declarers start from, and in a large run of several
/// shards, in one of the step's declaration buckets, so that a declarer reads the declarations
/// of a bucket and not of the whole run (docs/protocol.md, "Declaration buckets").
public struct MatchmakingKey: Hashable, Sendable {
    public var step: Int
    public var stateHash: [UInt8]
    /// The declarer's bucket, in 0..<`buckets`.
    public var bucket: Int
    /// How many buckets the declarer split the step into: 1 is the one key of every run before
    /// buckets. Part of the key, so that declarers that counted the run differently do not read
    /// part of each other's buckets.
    public var buckets: Int

    public init(step: Int, stateHash: [UInt8], bucket: Int = 0, buckets: Int = 1) {
        precondition(buckets >= 1 && (0..<buckets).contains(bucket), "bucket \(bucket) of \(buckets)")
        self.step = step
        self.stateHash = stateHash
        self.bucket = bucket
        self.buckets = buckets
    }
}
