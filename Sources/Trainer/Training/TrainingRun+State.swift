/// The training state that collaborating peers exchange: parameters then momentum, as
/// little-endian Float32 bytes (the flat arenas of DESIGN.md, so one copy each way).
extension TrainingRun {
    public var stateByteCount: Int { Self.stateByteCount(for: model.config) }

    /// Bytes of the state (parameters, then momentum) of a model of `config`.
    public static func stateByteCount(for config: ModelConfig) -> Int {
        2 * ParameterLayout(config: config).parameterCount * MemoryLayout<Float>.size
    }

    /// Copies parameters and momentum into `destination`, which holds `stateByteCount` bytes.
    public func copyState(into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count == stateByteCount, "state buffer holds \(destination.count) bytes, needs \(stateByteCount)")
        let half = stateByteCount / 2
        destination.baseAddress!.copyMemory(from: model.parameters.base, byteCount: half)
        (destination.baseAddress! + half).copyMemory(from: optimizer.momentumBuffer.base, byteCount: half)
    }

    /// Replaces parameters, momentum and step with a downloaded state.
    public func loadState(from source: UnsafeRawBufferPointer, step: Int) {
        precondition(source.count == stateByteCount, "state holds \(source.count) bytes, needs \(stateByteCount)")
        let half = stateByteCount / 2
        UnsafeMutableRawPointer(model.parameters.base).copyMemory(from: source.baseAddress!, byteCount: half)
        UnsafeMutableRawPointer(optimizer.momentumBuffer.base).copyMemory(from: source.baseAddress! + half, byteCount: half)
        optimizer.step = step
        discardAccumulatedGradients()
    }
}
