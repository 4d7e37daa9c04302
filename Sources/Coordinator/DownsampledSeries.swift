/// A plotted series over a whole run in bounded memory: the values are kept as the means of
/// at most `maximumBuckets` buckets of consecutive points, plus the newest point exactly.
///
/// Every bucket but the newest holds `bucketWidth` points. When one more bucket would exceed
/// the bound, neighbouring buckets merge in pairs and the width doubles, so appending costs
/// O(1) amortised and a run of any length plots with at most `maximumBuckets + 1` points.
/// Non-finite values (a round nobody reported has no loss) are left out.
public struct DownsampledSeries: Sendable {
    /// Few enough points for an inline SVG line, enough to show a loss curve's shape.
    public static let defaultMaximumBuckets = 256

    private struct Bucket: Sendable {
        var stepSum: Double
        var valueSum: Double
        var count: Int

        mutating func absorb(_ other: Bucket) {
            stepSum += other.stepSum
            valueSum += other.valueSum
            count += other.count
        }

        var mean: CoordinatorStatus.PlotPoint {
            .init(step: stepSum / Double(count), value: valueSum / Double(count))
        }
    }

    public let maximumBuckets: Int
    /// Points per full bucket: 1 until the series first fills its buckets, then a power of two.
    public private(set) var bucketWidth = 1
    private var buckets: [Bucket] = []
    private var newest: CoordinatorStatus.PlotPoint?

    public init(maximumBuckets: Int = defaultMaximumBuckets) {
        precondition(maximumBuckets >= 2 && maximumBuckets.isMultiple(of: 2),
                     "buckets merge in pairs, so their bound must be even and at least 2, not \(maximumBuckets)")
        self.maximumBuckets = maximumBuckets
        buckets.reserveCapacity(maximumBuckets + 1)
    }

    public mutating func append(step: Double, value: Double) {
        guard step.isFinite, value.isFinite else { return }
        newest = .init(step: step, value: value)
        let point = Bucket(stepSum: step, valueSum: value, count: 1)
        if let last = buckets.indices.last, buckets[last].count < bucketWidth {
            buckets[last].absorb(point)
        } else {
            buckets.append(point)
        }
        if buckets.count > maximumBuckets { mergeNeighbours() }
    }

    /// The bucket means, oldest first, ending on the newest point itself, so the line ends on
    /// the value the run has now rather than on an average of the last few.
    public var points: [CoordinatorStatus.PlotPoint] {
        var points = buckets.map(\.mean)
        if let newest, let last = buckets.last, last.count > 1 { points.append(newest) }
        return points
    }

    private mutating func mergeNeighbours() {
        var merged: [Bucket] = []
        merged.reserveCapacity(maximumBuckets + 1)
        for start in stride(from: 0, to: buckets.count, by: 2) {
            var bucket = buckets[start]
            if start + 1 < buckets.count { bucket.absorb(buckets[start + 1]) }
            merged.append(bucket)
        }
        buckets = merged
        bucketWidth *= 2
    }
}
