/// Softmax cross-entropy over the vocabulary, fused with its gradient.
///
/// Legend: N rows, V vocabulary. A target below zero marks a row that is not scored (transformers'
/// ignore index); the loss is the mean over scored rows.
enum CrossEntropy {
    /// Returns the mean loss and overwrites logits[N,V] with dloss/dlogits = (softmax − onehot)/scored
    /// (zero for rows that are not scored), ready for the backward pass.
    static func lossAndGradient<Scalar: TrainingScalar>(
        logits: UnsafeMutablePointer<Scalar>, targets: UnsafePointer<Int32>,
        rows n: Int, vocabulary v: Int
    ) -> Double {
        var scored = 0
        for row in 0..<n where targets[row] >= 0 { scored += 1 }
        guard scored > 0 else { return 0 }
        let inverseScored = 1 / Scalar(scored)
        var total: Double = 0
        for row in 0..<n {
            let logitRow = logits + row * v
            let target = Int(targets[row])
            var maximum = -Scalar.greatestFiniteMagnitude
            for j in 0..<v { maximum = max(maximum, logitRow[j]) }
            let targetLogit = target >= 0 ? logitRow[target] : 0
            for j in 0..<v { logitRow[j] -= maximum }
            Scalar.exponentialInPlace(logitRow, count: v)
            var sum: Scalar = 0
            for j in 0..<v { sum += logitRow[j] }
            if target >= 0 {
                total += Double(Scalar.logarithm(sum) + maximum - targetLogit)
            }
            if target < 0 {
                logitRow.update(repeating: 0, count: v)
                continue
            }
            let scale = inverseScored / sum
            for j in 0..<v { logitRow[j] *= scale }
            logitRow[target] -= inverseScored
        }
        return total / Double(scored)
    }
}
