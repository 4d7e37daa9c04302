import Trainer

/// SGD on the GPU for standalone training: `SGDOptimizer.apply`'s operations, element by
/// element in the same order, with the norm summed in float64 over fixed partial sums. The
/// kernels avoid fused multiply-adds, but the norm's summation order differs from the host's,
/// so a step may differ from the CPU's in the last bits of the clipping scale: collaborative
/// peers therefore step on the host.
extension CUDAAccelerator: DeviceOptimizer {
    public func load(parameters: FlatBuffer<Float>, momentum: FlatBuffer<Float>) {
        load(parameters: parameters)
        succeed { () throws(CUDAUnavailable) in
            let velocity = try velocityBuffer()
            try velocity.upload(UnsafeBufferPointer(start: momentum.base, count: momentum.count))
        }
    }

    public func step(settings: SGDSettings, rate: Double, microBatches: Int, decayRanges: [Range<Int>]) -> Double {
        succeed { () throws(CUDAUnavailable) in
            let gpu = model.gpu, gradients = model.gradients, parameters = model.parameters
            let count = gradients.count
            if microBatches > 1 {
                try gpu.launch("cohort_scale", .scale(count: count),
                               [.pointer(gradients), .count(count), .float(1 / Float(microBatches))])
            }
            let norm = try norm(of: gradients)
            guard norm.isFinite else { return norm }
            let clip = settings.gradientClipNorm
            let gradientScale = Float(clip > 0 && norm > clip ? clip / norm : 1)
            let lr = Float(rate)
            if settings.weightDecay > 0 {
                let keep = 1 - lr * Float(settings.weightDecay)
                for range in decayRanges {
                    try gpu.launch("cohort_scale", .scale(count: range.count),
                                   [.pointer(parameters, at: range.lowerBound), .count(range.count), .float(keep)])
                }
            }
            try gpu.launch("cohort_sgd_momentum", .sgdMomentum(count: count),
                           [.pointer(parameters), .pointer(try velocityBuffer()), .pointer(gradients), .count(count), .float(lr),
                            .float(Float(settings.momentum)), .float(gradientScale), .int(settings.nesterov ? 1 : 0)])
            return norm
        }
    }

    public func copyState(parameters: FlatBuffer<Float>, momentum: FlatBuffer<Float>) {
        succeed { () throws(CUDAUnavailable) in
            try model.parameters.download(into: UnsafeMutableBufferPointer(start: parameters.base, count: parameters.count))
            try velocityBuffer().download(into: UnsafeMutableBufferPointer(start: momentum.base, count: momentum.count))
        }
    }

    /// The L2 norm of `values`: fixed partial sums in float64 on the device, added in order here.
    private func norm(of values: DeviceBuffer<Float>) throws(CUDAUnavailable) -> Double {
        let partials = try partialSums()
        try model.gpu.launch("cohort_sum_squares_partials", .sumSquaresPartials,
                             [.pointer(partials), .pointer(values), .count(values.count)])
        var sums = [Double](repeating: 0, count: partials.count)
        try sums.withUnsafeMutableBufferPointer { (sums) throws(CUDAUnavailable) in try partials.download(into: sums) }
        return sums.reduce(0, +).squareRoot()
    }
}
