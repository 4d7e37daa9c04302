/// The training state that collaborating peers exchange: parameters then momentum, as
/// little-endian Float32 bytes (the flat arenas of DESIGN.md, so one copy each way). Under local
/// SGD these are the shared parameters and the outer momentum; each peer's inner parameters
/// and momentum are its own.
extension TrainingRun {
    public var stateByteCount: Int { 2 * trainableParameters.count * MemoryLayout<Float>.size }

    /// Bytes of the state (parameters, then momentum) of a model of `config`, or of a
    /// prompt-tuning run's prompt and label rows over a base of `config`.
    public static func stateByteCount(for config: ModelConfig, promptTuning: PromptTuningSettings? = nil) -> Int {
        2 * trainableParameterCount(for: config, promptTuning: promptTuning) * MemoryLayout<Float>.size
    }

    /// Parameters a run of `config` trains and averages: all of them, or the prompt and label rows.
    public static func trainableParameterCount(for config: ModelConfig, promptTuning: PromptTuningSettings? = nil) -> Int {
        promptTuning.map { PromptVocabulary(base: config, settings: $0).trainableRange.count }
            ?? ParameterLayout(config: config).parameterCount
    }

    /// Copies parameters and momentum into `destination`, which holds `stateByteCount` bytes.
    public func copyState(into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count == stateByteCount, "state buffer holds \(destination.count) bytes, needs \(stateByteCount)")
        copyStateFromDevice()
        let half = stateByteCount / 2
        destination.baseAddress!.copyMemory(from: (outer?.parameters ?? trainableParameters).base, byteCount: half)
        (destination.baseAddress! + half).copyMemory(from: (outer?.momentum ?? optimizer.momentumBuffer).base, byteCount: half)
    }

    /// Replaces parameters, momentum and step with a downloaded state.
    public func loadState(from source: UnsafeRawBufferPointer, step: Int) {
        precondition(source.count == stateByteCount, "state holds \(source.count) bytes, needs \(stateByteCount)")
        let half = stateByteCount / 2
        if let outer {
            UnsafeMutableRawPointer(outer.parameters.base).copyMemory(from: source.baseAddress!, byteCount: half)
            UnsafeMutableRawPointer(outer.momentum.base).copyMemory(from: source.baseAddress! + half, byteCount: half)
            outer.step = step
        } else {
            UnsafeMutableRawPointer(trainableParameters.base).copyMemory(from: source.baseAddress!, byteCount: half)
            UnsafeMutableRawPointer(optimizer.momentumBuffer.base).copyMemory(from: source.baseAddress! + half, byteCount: half)
            optimizer.step = step
        }
        parametersChanged()
        discardAccumulatedGradients()
    }
}
