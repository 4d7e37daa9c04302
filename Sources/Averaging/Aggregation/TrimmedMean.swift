/// Coordinate-wise trimmed mean over contribution rows, sixteen coordinates at a time.
///
/// Per block, every row's values pass through two chains of `trim` blocks: the first keeps the
/// largest values seen so far, the second the smallest of what the first let go; what falls out
/// of both is a middle value and is summed. Each chain step is a compare and two blends, so the
/// cost per value is about 4·trim + 1 vector operations, with no sorting and no cancellation
/// (an outlier is never added and subtracted again).
enum TrimmedMean {
    typealias Block = ContributionRows.Block

    /// Writes, for each coordinate, the unweighted mean of the rows' values without the `trim`
    /// largest and `trim` smallest into `output` (⌈length/16⌉ blocks). `chain` holds at least
    /// 2·trim blocks of scratch. `trim` = (n − 1)/2 gives the coordinate-wise median (the mean
    /// of the two middle values for even n).
    static func reduce(_ rows: ContributionRows, trim: Int, chain: UnsafeMutablePointer<Block>,
                       into output: UnsafeMutablePointer<Float>) {
        precondition(trim >= 0 && 2 * trim < rows.count, "cannot trim \(trim) from each end of \(rows.count) rows")
        let largest = chain, smallest = chain + trim
        let kept = Block(repeating: Float(rows.count - 2 * trim))
        for block in 0..<rows.blockCount {
            largest.update(repeating: Block(repeating: -.infinity), count: trim)
            smallest.update(repeating: Block(repeating: .infinity), count: trim)
            var sum = Block()
            for row in 0..<rows.count {
                var value = rows.block(block, ofRow: row)
                for slot in 0..<trim {
                    let held = largest[slot]
                    let larger = value .> held
                    largest[slot] = held.replacing(with: value, where: larger)
                    value = value.replacing(with: held, where: larger)
                }
                // The first `trim` rows only push −∞ placeholders out of the first chain.
                guard row >= trim else { continue }
                for slot in 0..<trim {
                    let held = smallest[slot]
                    let smaller = value .< held
                    smallest[slot] = held.replacing(with: value, where: smaller)
                    value = value.replacing(with: held, where: smaller)
                }
                // The next `trim` rows only push +∞ placeholders out of the second chain.
                if row >= 2 * trim {
                    sum += value
                }
            }
            ContributionRows.store(sum / kept, output, block: block)
        }
    }
}
