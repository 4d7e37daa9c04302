/// Data parallelism inside one process: the micro-batch is split over `lanes` model replicas
/// that share the parameters, each running forward and backward on its rows with
/// single-threaded BLAS, and their gradients are summed.
///
/// Two threads each running their own matrix products beat two BLAS threads splitting every
/// product: the products of a small model are too small to split well (BLAS threads spend a
/// tenth of the time yielding), and the elementwise kernels run in parallel for free.
extension TrainingRun {
    /// Mean loss of the first `micro` rows of the batch buffers; with `backward`, their mean
    /// gradient is added to the model's gradient arena. Each lane draws `noise`'s masks for its own rows.
    func forwardInLanes(micro: Int, time: Int, backward: Bool = true, noise: TrainingNoise? = nil) -> Double {
        let count = min(lanes, micro)
        if replicas.count != count {
            replicas = (0..<count).map { _ in TransformerModel(replicaOf: model) }
            laneLosses = FlatBuffer(count: count)
        }
        // Lane k takes rows micro·k/count ..< micro·(k+1)/count; nothing here allocates per step.
        func firstRow(_ lane: Int) -> Int { micro * lane / count }
        func weight(_ lane: Int) -> Float { Float(firstRow(lane + 1) - firstRow(lane)) / Float(micro) }
        let losses = laneLosses.base
        let threads = BLASRuntime.threads
        BLASRuntime.threads = 1
        Parallel.runLanes(count) { lane in
            let replica = replicas[lane]
            let slice = (firstRow(lane) * time)..<(firstRow(lane + 1) * time)
            var laneNoise = noise
            laneNoise?.firstSequence = firstRow(lane)
            losses[lane] = replica.forward(tokens: UnsafeBufferPointer(rebasing: tokens[slice]),
                                           targets: UnsafeBufferPointer(rebasing: targets[slice]),
                                           batch: firstRow(lane + 1) - firstRow(lane), time: time, noise: laneNoise)
            if backward {
                replica.zeroGradients()
                replica.backward()
            }
        }
        BLASRuntime.threads = threads
        var loss = 0.0
        for lane in 0..<count { loss += losses[lane] * Double(weight(lane)) }
        guard backward else { return loss }
        // Each replica's gradient is the mean over its rows; the batch mean weights them by rows.
        // Only the trained elements are summed: a prompt-tuning run's few rows, not the arena.
        let total = model.gradients.base + trainableRange.lowerBound
        Parallel.forEachRange(count: trainableRange.count, cost: 2 * count) { range in
            for lane in 0..<count {
                let g = replicas[lane].gradients.base + trainableRange.lowerBound, w = weight(lane)
                for index in range { total[index] += w * g[index] }
            }
        }
        return loss
    }
}
