import Trainer

/// The CUDA model against the CPU model on the same parameters and tokens: the loss, the
/// logits, and each parameter tensor's gradient (so every layer's backward, and through it its
/// forward), as ‖gpu − cpu‖ / ‖cpu‖ in float64. For `cohort check-gpu` and its tests.
public struct CUDANumericsCheck: Sendable {
    public struct Report: Sendable {
        public let config: ModelConfig
        public let batch: Int
        public let lossError: Double
        public let logitsError: Double
        /// Each tensor's gradient error, in the arena's order.
        public let gradientErrors: [(tensor: String, error: Double)]

        public var largestGradientError: (tensor: String, error: Double) {
            gradientErrors.max { $0.error < $1.error } ?? ("", 0)
        }

        /// Whether every error is within `bound`.
        public func passes(_ bound: Double) -> Bool {
            lossError <= bound && logitsError <= bound && gradientErrors.allSatisfy { $0.error <= bound }
        }
    }

    public init() {}

    /// Runs one forward and backward of a `config` model initialised from `seed` on random
    /// tokens (a few targets unscored) on both devices.
    public func run(config: ModelConfig, batch: Int, on gpu: CUDAContext, seed: UInt64 = 1) throws(CUDAUnavailable) -> Report {
        let time = config.contextLength
        let cpu = TransformerModel<Float>(config: config)
        cpu.initializeParameters(seed: seed)
        let device = try CUDATransformer(config: config, on: gpu)
        try device.upload(parameters: cpu.parameters)
        var generator = SeededGenerator(seed: seed &+ 1)
        let vocabulary = UInt64(config.vocabularySize)
        let tokens = (0..<(batch * time)).map { _ in Int32(generator.next() % vocabulary) }
        let targets = (0..<(batch * time)).map { index in index % 17 == 3 ? -1 : Int32(generator.next() % vocabulary) }

        let expectedLogits = tokens.withUnsafeBufferPointer { Array(cpu.logits(tokens: $0, batch: batch, time: time)) }
        let logits = try tokens.withUnsafeBufferPointer { (tokens) throws(CUDAUnavailable) in
            try device.logits(tokens: tokens, batch: batch, time: time)
        }
        cpu.zeroGradients()
        let expectedLoss = tokens.withUnsafeBufferPointer { tokens in
            targets.withUnsafeBufferPointer { cpu.forward(tokens: tokens, targets: $0, batch: batch, time: time) }
        }
        cpu.backward()
        try device.zeroGradients()
        let loss = try tokens.withUnsafeBufferPointer { (tokens) throws(CUDAUnavailable) in
            try targets.withUnsafeBufferPointer { (targets) throws(CUDAUnavailable) in
                try device.forward(tokens: tokens, targets: targets, batch: batch, time: time)
            }
        }
        try device.backward()
        let gradients = FlatBuffer<Float>(count: cpu.layout.parameterCount)
        try device.download(gradients: gradients)
        let gradientErrors = cpu.layout.tensors.map { tensor in
            (tensor.name, Self.relativeError(UnsafeBufferPointer(start: gradients.base + tensor.offset, count: tensor.count),
                                             UnsafeBufferPointer(start: cpu.gradients.base + tensor.offset, count: tensor.count)))
        }
        let logitsError = logits.withUnsafeBufferPointer { logits in
            expectedLogits.withUnsafeBufferPointer { Self.relativeError(logits, $0) }
        }
        return Report(config: config, batch: batch, lossError: abs(loss - expectedLoss) / abs(expectedLoss),
                      logitsError: logitsError, gradientErrors: gradientErrors)
    }

    /// ‖actual − expected‖ / ‖expected‖ in float64; NaN anywhere gives NaN, which passes no bound.
    static func relativeError(_ actual: UnsafeBufferPointer<Float>, _ expected: UnsafeBufferPointer<Float>) -> Double {
        var difference = 0.0, reference = 0.0
        for (a, e) in zip(actual, expected) {
            difference += (Double(a) - Double(e)) * (Double(a) - Double(e))
            reference += Double(e) * Double(e)
        }
        guard reference > 0 else { return difference == 0 ? 0 : .infinity }
        return (difference / reference).squareRoot()
    }
}
