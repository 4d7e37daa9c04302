/// CenteredClip over contribution rows (`Aggregation.centeredClip`): start at the
/// coordinate-wise median, then move towards every row by at most the clipping radius.
///
/// One iteration is two passes over the rows: the distance of each row from the centre, then
/// the clipped step. Distances are summed in Float, sixteen lanes at a time; a row so far away
/// that its distance overflows gets no weight at all rather than an infinite one.
enum CenteredClip {
    typealias Block = ContributionRows.Block

    /// Writes the clipped centre of the rows into `center` (⌈length/16⌉ blocks). `chain` holds at
    /// least n − 1 blocks and `distances` 2n floats of scratch. When more than half the rows are
    /// so far out that the radius overflows, the result is the median.
    static func reduce(_ rows: ContributionRows, tau: Double, iterations: Int, chain: UnsafeMutablePointer<Block>,
                       distances: UnsafeMutableBufferPointer<Float>, into center: UnsafeMutablePointer<Float>) {
        precondition(distances.count >= 2 * rows.count, "\(distances.count) distance slots for \(rows.count) rows")
        TrimmedMean.reduce(rows, trim: (rows.count - 1) / 2, chain: chain, into: center)
        measureDistances(rows, from: center, into: distances)
        let sorted = UnsafeMutableBufferPointer(rebasing: distances[rows.count..<(2 * rows.count)])
        _ = sorted.update(fromContentsOf: distances[0..<rows.count])
        let radius = Float(tau) * lowerMedian(sorted)
        guard radius.isFinite else { return }
        for iteration in 0..<iterations {
            if iteration > 0 {
                measureDistances(rows, from: center, into: distances)
            }
            for row in 0..<rows.count {
                // The weight of row i: min(1, r/‖xᵢ − v‖); 1 when the row sits on the centre.
                let distance = distances[row]
                distances[row] = distance <= radius ? 1 : radius / distance
            }
            step(rows, weights: UnsafeBufferPointer(distances), center: center)
        }
    }

    /// distances[i] = ‖rowᵢ − center‖.
    private static func measureDistances(_ rows: ContributionRows, from center: UnsafeMutablePointer<Float>,
                                         into distances: UnsafeMutableBufferPointer<Float>) {
        for row in 0..<rows.count {
            var squares = Block()
            for block in 0..<rows.blockCount {
                let difference = rows.block(block, ofRow: row) - ContributionRows.load(center, block: block)
                // Multiply and add, not addProduct: without an FMA target that is a call to fmaf per lane.
                squares += difference * difference
            }
            distances[row] = squares.sum().squareRoot()
        }
    }

    /// center += (1/n) Σᵢ weightᵢ · (rowᵢ − center), skipping rows of weight 0 (whose difference
    /// may be infinite).
    private static func step(_ rows: ContributionRows, weights: UnsafeBufferPointer<Float>, center: UnsafeMutablePointer<Float>) {
        let count = Block(repeating: Float(rows.count))
        for block in 0..<rows.blockCount {
            let current = ContributionRows.load(center, block: block)
            var pull = Block()
            for row in 0..<rows.count where weights[row] > 0 {
                pull += Block(repeating: weights[row]) * (rows.block(block, ofRow: row) - current)
            }
            ContributionRows.store(current + pull / count, center, block: block)
        }
    }

    /// The lower median (at most half the values lie below it); reorders `values`.
    private static func lowerMedian(_ values: UnsafeMutableBufferPointer<Float>) -> Float {
        var values = values
        values.sort()
        return values[(values.count - 1) / 2]
    }
}
