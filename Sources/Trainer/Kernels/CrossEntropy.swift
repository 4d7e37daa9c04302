/// Softmax cross-entropy over the vocabulary, fused with its gradient.
///
/// Legend: N rows, V vocabulary. A target below zero marks a row that is not scored (transformers'
/// ignore index); the loss is the mean over scored rows.
enum CrossEntropy {
    /// Returns the mean loss (row losses are summed in row order, so the result does not depend
    /// on the thread count) and overwrites logits[N,V] with dloss/dlogits = (softmax − onehot)/scored
    /// (zero for rows that are not scored), ready for the backward pass.
    static func lossAndGradient<Scalar: TrainingScalar>(
        logits: UnsafeMutablePointer<Scalar>, targets: UnsafePointer<Int32>,
        rows n: Int, vocabulary v: Int, rowLosses: UnsafeMutablePointer<Double>
    ) -> Double {
        var scored = 0
        for row in 0..<n where targets[row] >= 0 { scored += 1 }
        guard scored > 0 else { return 0 }
        let inverseScored = 1 / Scalar(scored)
        Parallel.forEachRange(count: n, cost: 8 * v) { rows in
            for row in rows {
                rowLosses[row] = rowLossAndGradient(
                    logits + row * v, target: Int(targets[row]), vocabulary: v, inverseScored: inverseScored)
            }
        }
        var total = 0.0
        for row in 0..<n { total += rowLosses[row] }
        return total / Double(scored)
    }

    /// One row: returns its loss (0 when not scored) and overwrites it with its gradient.
    @inline(__always)
    private static func rowLossAndGradient<Scalar: TrainingScalar>(
        _ logitRow: UnsafeMutablePointer<Scalar>, target: Int, vocabulary v: Int, inverseScored: Scalar
    ) -> Double {
        guard target >= 0 else {
            logitRow.update(repeating: 0, count: v)
            return 0
        }
        var maximum = -Scalar.greatestFiniteMagnitude
        for j in 0..<v { maximum = max(maximum, logitRow[j]) }
        let targetLogit = logitRow[target]
        for j in 0..<v { logitRow[j] -= maximum }
        Scalar.exponentialInPlace(logitRow, count: v)
        var sum: Scalar = 0
        for j in 0..<v { sum += logitRow[j] }
        let scale = inverseScored / sum
        for j in 0..<v { logitRow[j] *= scale }
        logitRow[target] -= inverseScored
        return Double(Scalar.logarithm(sum) + maximum - targetLogit)
    }
}
