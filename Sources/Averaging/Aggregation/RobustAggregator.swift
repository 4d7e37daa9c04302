/// An owner's buffers for a robust aggregation of its part's chunks, allocated once per round:
/// one row per member (members × chunk size floats, rounded up to whole 16-value blocks) plus
/// the kernels' scratch. Filling rows and reducing them allocates nothing.
struct RobustAggregator {
    typealias Block = ContributionRows.Block

    let aggregation: Aggregation
    let capacity: Int
    let stride: Int
    private var rows: [Float]
    private var center: [Float]
    private var chain: [Block]
    private var distances: [Float]

    /// Room for up to `capacity` contributions of at most `maxLength` values each.
    init(aggregation: Aggregation, capacity: Int, maxLength: Int) {
        precondition(aggregation != .mean, "the mean is reduced as contributions arrive, without rows")
        precondition(capacity > 0 && maxLength > 0, "rows for \(capacity) contributions of \(maxLength) values")
        self.aggregation = aggregation
        self.capacity = capacity
        let width = ContributionRows.blockWidth
        stride = (maxLength + width - 1) / width * width
        rows = Array(repeating: 0, count: capacity * stride)
        center = Array(repeating: 0, count: stride)
        chain = Array(repeating: Block(), count: capacity)
        distances = Array(repeating: 0, count: 2 * capacity)
    }

    /// Lets `fill` write the `length` values of contribution `row`, then zeroes the rest of its
    /// last block.
    mutating func fillRow(_ row: Int, length: Int, _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        precondition(row < capacity && length <= stride, "row \(row) of \(length) values in rows of \(capacity) × \(stride)")
        let stride = self.stride
        rows.withUnsafeMutableBufferPointer { rows in
            let start = row * stride
            fill(UnsafeMutableBufferPointer(rebasing: rows[start..<(start + length)]))
            let padded = (length + ContributionRows.blockWidth - 1) / ContributionRows.blockWidth * ContributionRows.blockWidth
            UnsafeMutableBufferPointer(rebasing: rows[(start + length)..<(start + padded)]).update(repeating: 0)
        }
    }

    /// Aggregates the first `rowCount` rows (each `length` values) into `output`.
    mutating func reduce(rowCount: Int, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(rowCount >= 1 && rowCount <= capacity, "\(rowCount) contributions for rows of \(capacity)")
        let aggregation = self.aggregation, stride = self.stride
        rows.withUnsafeMutableBufferPointer { rows in
            center.withUnsafeMutableBufferPointer { center in
                chain.withUnsafeMutableBufferPointer { chain in
                    distances.withUnsafeMutableBufferPointer { distances in
                        let contributions = ContributionRows(base: rows.baseAddress!, count: rowCount, length: output.count,
                                                             stride: stride)
                        switch aggregation {
                        case .mean:
                            preconditionFailure("the mean is reduced as contributions arrive")
                        case .trimmedMean(let fraction):
                            let trim = Aggregation.trimCount(fraction: fraction, contributions: rowCount)
                            TrimmedMean.reduce(contributions, trim: trim, chain: chain.baseAddress!, into: center.baseAddress!)
                        case .centeredClip(let tau, let iterations):
                            CenteredClip.reduce(contributions, tau: tau, iterations: iterations, chain: chain.baseAddress!,
                                                distances: distances, into: center.baseAddress!)
                        }
                        _ = output.update(fromContentsOf: center[0..<output.count])
                    }
                }
            }
        }
    }
}
