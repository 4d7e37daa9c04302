import CohortBase
import Averaging
import DHT

/// The run's collective progress towards its next optimizer step, as one peer sees it.
public struct GlobalProgress: Equatable, Sendable {
    /// The highest step any live peer is accumulating for.
    public var step: Int
    /// Samples accumulated for `step` by all live peers at that step, extrapolated to now.
    public var samplesAccumulated: Int
    public var targetBatchSize: Int
    /// Summed throughput of the live peers at `step`.
    public var samplesPerSecond: Double
    /// Live peers at `step` (the ones that will average together).
    public var peersAtStep: Int
    /// Live peers one step behind that wrote their record within
    /// `RunTimings.catchingUpWithin`: a member still finishing the last round, or a
    /// peer left out of it that is loading the new state. Both declare within moments.
    public var peersCatchingUp: Int
    /// The group a leader waits for before fixing it at once: without the peers catching up,
    /// short rounds would form before a left-out peer could ever declare again, and it would
    /// chase the run for good.
    public var expectedGroupSize: Int { peersAtStep + peersCatchingUp }
    /// Seconds until the target is reached at the current throughput (0 when reached).
    public var secondsToTarget: Double

    public var isTargetReached: Bool { samplesAccumulated >= targetBatchSize }
}

/// Combines the progress records of every peer into `GlobalProgress` (DeDLOC §3.2).
///
/// A pure value: the caller passes the records it read from the DHT (one per peer, under the
/// peer's own subkey: `OwnedRecord`) and the current time. Records older than
/// `staleAfter` belong to peers that left without saying goodbye and are ignored, and so are
/// records written further ahead than `maxClockSkew`, which would otherwise never go stale.
/// Counts are extrapolated from each record's throughput and age, capped at
/// `extrapolationLimit`, so that peers do not wait for the next publication to
/// notice that the batch is complete.
///
/// Every field of a record is its writer's claim, so no single record decides anything: the
/// run's step is the highest step at least half of the live peers have reached (one peer
/// claiming step 2³¹ − 1 would otherwise stop every other peer averaging, as they would chase
/// it for good), and a peer's samples and throughput count for at most `ShareCap.medianMultiple`
/// times the median of the peers at the step, as in the averaging weights.
public struct ProgressTracker: Sendable {
    public var targetBatchSize: Int
    public var staleAfter = RunTimings.progressStaleAfter
    public var extrapolationLimit = RunTimings.extrapolationLimit
    public var maxClockSkew = RunTimings.maxClockSkew
    public var catchingUpWithin = RunTimings.catchingUpWithin

    public init(targetBatchSize: Int) {
        precondition(targetBatchSize > 0, "the target batch must be positive, got \(targetBatchSize)")
        self.targetBatchSize = targetBatchSize
    }

    /// Whether `record` comes from a peer still taking part: recent, and not from the future.
    public func isLive(_ record: PeerProgress, now: WallClockInstant) -> Bool {
        isLive(writtenAt: record.writtenAt, now: now)
    }

    /// Whether something written at `writtenAt` is still current: recent, and not from the future.
    public func isLive(writtenAt: WallClockInstant, now: WallClockInstant) -> Bool {
        writtenAt > now ? writtenAt - now <= maxClockSkew : now - writtenAt <= staleAfter
    }

    /// The run's progress from every peer's record (a run of one shard).
    public func globalProgress(of records: [PeerProgress], now: WallClockInstant) -> GlobalProgress {
        globalProgress(of: records, otherShards: [], now: now)
    }

    /// The highest step that at least half of `steps` (one per live peer) have reached; 0 when
    /// there is none.
    public static func runStep(reachedBy steps: [Int]) -> Int {
        let descending = steps.sorted(by: >)
        return descending.isEmpty ? 0 : descending[(descending.count - 1) / 2]
    }
}
