/// Data parallelism inside one process: the micro-batch is split over `lanes` model replicas
/// that share the parameters, each running forward and backward on its rows with
/// single-threaded BLAS, and their gradients are summed.
///
/// Two threads each running their own matrix products beat two BLAS threads splitting every
/// product: the products of a small model are too small to split well (BLAS threads spend a
/// tenth of the time yielding), and the elementwise kernels run in parallel for free.
extension TrainingRun {
    /// Mean loss of the first `micro` rows of the batch buffers; with `backward`, their mean
    /// gradient is added to the model's gradient arena.
    func forwardInLanes(micro: Int, time: Int, backward: Bool = true) -> Double {
        let count = min(lanes, micro)
        if replicas.count != count { replicas = (0..<count).map { _ in TransformerModel(replicaOf: model) } }
        let rows = (0...count).map { micro * $0 / count }
        var losses = [Double](repeating: 0, count: count)
        let threads = BLASRuntime.threads
        BLASRuntime.threads = 1
        losses.withUnsafeMutableBufferPointer { losses in
            Parallel.runLanes(count) { lane in
                let replica = replicas[lane]
                let slice = (rows[lane] * time)..<(rows[lane + 1] * time)
                losses[lane] = replica.forward(tokens: UnsafeBufferPointer(rebasing: tokens[slice]),
                                               targets: UnsafeBufferPointer(rebasing: targets[slice]),
                                               batch: rows[lane + 1] - rows[lane], time: time)
                if backward {
                    replica.zeroGradients()
                    replica.backward()
                }
            }
        }
        BLASRuntime.threads = threads
        let weights = (0..<count).map { Float(rows[$0 + 1] - rows[$0]) / Float(micro) }
        let loss = zip(losses, weights).reduce(0) { $0 + $1.0 * Double($1.1) }
        guard backward else { return loss }
        // Each replica's gradient is the mean over its rows; the batch mean weights them by rows.
        let total = model.gradients.base
        Parallel.forEachRange(count: model.gradients.count, cost: 2 * count) { range in
            for (replica, weight) in zip(replicas, weights) {
                let g = replica.gradients.base
                for index in range { total[index] += weight * g[index] }
            }
        }
        return loss
    }
}
