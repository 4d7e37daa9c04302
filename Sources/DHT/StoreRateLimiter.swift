import CohortBase

/// A token bucket per peer for the records it asks this node to store, as a pure state machine
/// with the time passed in.
///
/// Each peer's bucket holds up to `burst` tokens and refills at `recordsPerMinute`; a store
/// request takes one token per record and is refused whole when the bucket holds fewer. An
/// honest peer stores a handful of records per step (progress, declaration, round report,
/// state announcement), far below the default.
public struct StoreRateLimiter: Sendable {
    public struct Settings: Sendable, Equatable {
        public var recordsPerMinute = 600
        /// Records a peer may store at once after a quiet spell.
        public var burst = 600
        /// Buckets kept at most; beyond it full buckets are dropped (a dropped bucket is a full
        /// one), then the least recently used.
        public var maxTrackedPeers = 10_000

        public init() {}
    }

    private struct Bucket: Sendable {
        var tokens: Double
        var updated: MonotonicInstant
    }

    public let settings: Settings
    private var buckets: [PeerID: Bucket] = [:]

    public init(settings: Settings = Settings()) {
        precondition(settings.recordsPerMinute > 0 && settings.burst > 0 && settings.maxTrackedPeers > 0,
                     "rate limiter settings \(settings) would refuse everything")
        self.settings = settings
    }

    /// Takes `records` tokens from `peer`'s bucket; false (and nothing taken) when it holds fewer.
    public mutating func admit(_ records: Int, from peer: PeerID, now: MonotonicInstant) -> Bool {
        if buckets[peer] == nil {
            makeRoom(now: now)
        }
        var bucket = buckets[peer].map { refilled($0, now: now) } ?? Bucket(tokens: Double(settings.burst), updated: now)
        let admitted = bucket.tokens >= Double(records)
        if admitted {
            bucket.tokens -= Double(records)
        }
        buckets[peer] = bucket
        return admitted
    }

    private func refilled(_ bucket: Bucket, now: MonotonicInstant) -> Bucket {
        let elapsedNanoseconds = Double(max(0, now.nanoseconds - bucket.updated.nanoseconds))
        let tokens = min(Double(settings.burst), bucket.tokens + elapsedNanoseconds * Double(settings.recordsPerMinute) / 60e9)
        return Bucket(tokens: tokens, updated: now)
    }

    private mutating func makeRoom(now: MonotonicInstant) {
        guard buckets.count >= settings.maxTrackedPeers else { return }
        buckets = buckets.filter { refilled($0.value, now: now).tokens < Double(settings.burst) }
        if buckets.count >= settings.maxTrackedPeers, let oldest = buckets.min(by: { $0.value.updated < $1.value.updated }) {
            buckets[oldest.key] = nil
        }
    }
}
