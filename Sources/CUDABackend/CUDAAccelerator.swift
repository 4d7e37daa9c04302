import Trainer

/// The CUDA trainer as a `TrainingAccelerator`: `CUDATransformer` on one GPU, fed from and
/// returning to the run's host arenas, which it pins.
public final class CUDAAccelerator: TrainingAccelerator {
    public let model: CUDATransformer
    private var pinnedParameters: PinnedHostMemory?
    private var pinnedGradients: PinnedHostMemory?
    /// The optimizer's momentum and the norm's partial sums, once it steps on the device.
    private var velocity: DeviceBuffer<Float>?
    private var partials: DeviceBuffer<Double>?

    /// Why a run of `settings` cannot train on the GPU, or nil when it can.
    public static func problem(with settings: TrainingSettings) -> String? {
        if let problem = CUDATransformer.problem(with: settings.model) { return problem }
        if settings.regularization.isEnabled {
            return "the CUDA trainer has no dropout, stochastic depth or byte corruption; train those on the CPU"
        }
        return nil
    }

    public init(settings: TrainingSettings, on gpu: CUDAContext) throws(CUDAUnavailable) {
        if let problem = Self.problem(with: settings) { throw CUDAUnavailable(problem) }
        model = try CUDATransformer(config: settings.model, on: gpu)
        try model.reserve(batch: settings.effectiveMicroBatchSize, time: settings.model.contextLength)
    }

    public var description: String {
        let gpu = model.gpu
        return "\(gpu.device.name) (CUDA, compute capability \(gpu.device.computeCapability), "
            + "kernels \(gpu.kernelTarget), matrix products \(gpu.mathMode.rawValue))"
    }

    public func load(parameters: FlatBuffer<Float>) {
        if pinnedParameters?.buffer !== parameters { pinnedParameters = PinnedHostMemory(parameters, on: model.gpu) }
        succeed { () throws(CUDAUnavailable) in try model.upload(parameters: parameters) }
    }

    public func zeroGradients() {
        succeed { () throws(CUDAUnavailable) in try model.zeroGradients() }
    }

    public func accumulateGradients(tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                                    batch: Int, time: Int) -> Double {
        succeed { () throws(CUDAUnavailable) in
            let loss = try model.forward(tokens: tokens, targets: targets, batch: batch, time: time)
            try model.backward()
            return loss
        }
    }

    public func loss(tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>, batch: Int, time: Int) -> Double {
        succeed { () throws(CUDAUnavailable) in try model.forward(tokens: tokens, targets: targets, batch: batch, time: time) }
    }

    public func logits(tokens: UnsafeBufferPointer<Int32>, batch: Int, time: Int) -> [Float] {
        succeed { () throws(CUDAUnavailable) in try model.logits(tokens: tokens, batch: batch, time: time) }
    }

    public func copyGradients(into gradients: FlatBuffer<Float>) {
        if pinnedGradients?.buffer !== gradients { pinnedGradients = PinnedHostMemory(gradients, on: model.gpu) }
        succeed { () throws(CUDAUnavailable) in try model.download(gradients: gradients) }
    }

    func velocityBuffer() throws(CUDAUnavailable) -> DeviceBuffer<Float> {
        if let velocity { return velocity }
        let buffer = try model.gpu.buffer(Float.self, count: model.layout.parameterCount)
        velocity = buffer
        return buffer
    }

    func partialSums() throws(CUDAUnavailable) -> DeviceBuffer<Double> {
        if let partials { return partials }
        let buffer = try model.gpu.buffer(Double.self, count: KernelLaunch.sumSquaresPartialCount)
        partials = buffer
        return buffer
    }

    /// A GPU that fails mid-run leaves no gradient to go on with: the process ends, saying why.
    func succeed<R>(_ body: () throws(CUDAUnavailable) -> R) -> R {
        do {
            return try body()
        } catch {
            fatalError("the GPU failed: \(error)")
        }
    }
}
