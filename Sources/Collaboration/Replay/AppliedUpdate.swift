/// One optimizer step a peer took, kept so that a peer holding the state it started from can
/// take the same step and arrive at the same state, bit for bit (an update replay,
/// docs/protocol.md "Update replay").
///
/// Averaged updates are identical on every member of a round, and the optimizer is elementwise
/// in a fixed order (`SGDOptimizer`), so the step and the gradient it consumed are all a peer
/// needs besides the state before: a joiner that downloaded a state a few steps old replays
/// the steps taken since instead of downloading again.
public struct AppliedUpdate: Sendable {
    public var header: UpdateHeader
    /// The float32 gradient the optimizer consumed, one per element: the averaged values after
    /// decompression, and in the skipped parts whatever the arena held (they are not read).
    public var gradients: [Float]

    public init(header: UpdateHeader, gradients: [Float]) {
        precondition(gradients.count == header.elementCount,
                     "an update of \(header.elementCount) elements holds \(gradients.count) gradients")
        self.header = header
        self.gradients = gradients
    }
}

/// What an update is, without its gradient: where it starts and ends, and what it left out.
public struct UpdateHeader: Sendable, Equatable {
    /// At most this many skipped ranges per update: one per failed part of a round, and groups
    /// are far smaller. An update with more is not kept, so the bound never refuses an honest one.
    public static let maxSkippedRanges = 4_096
    /// Gradient elements of a model of up to 1 TiB of float32 parameters.
    public static let maxElementCount = 1 << 38

    /// The optimizer step the update moved from; it ends at the next one.
    public var fromStep: Int
    /// The state hash (`StateManifest.stateHash`) before and after the update.
    public var hashBefore: [UInt8]
    public var hashAfter: [UInt8]
    public var elementCount: Int
    /// Element ranges the update left unchanged (parts a round could not average), sorted,
    /// non-empty, apart and within `elementCount`.
    public var skipped: [Range<Int>]

    public init(fromStep: Int, hashBefore: [UInt8], hashAfter: [UInt8], elementCount: Int, skipped: [Range<Int>]) {
        self.fromStep = fromStep
        self.hashBefore = hashBefore
        self.hashAfter = hashAfter
        self.elementCount = elementCount
        self.skipped = skipped
    }

    /// Gradient bytes on the wire: four per element.
    public var gradientBytes: Int { 4 * elementCount }

    /// Whether `ranges` can be an update's skipped ranges over `elementCount` elements: at most
    /// `maxSkippedRanges`, each non-empty, in order, apart, within the elements.
    public static func areValidSkipped(_ ranges: [Range<Int>], elementCount: Int) -> Bool {
        guard ranges.count <= maxSkippedRanges else { return false }
        var end = 0
        for range in ranges {
            guard range.lowerBound >= end, !range.isEmpty, range.upperBound <= elementCount else { return false }
            end = range.upperBound
        }
        return true
    }

    /// `ranges` as an update's skipped ranges: sorted, with touching and overlapping ones
    /// merged and empty ones dropped (what the optimizer leaves alone, however it was listed).
    public static func normalisedSkipped(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for range in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}
