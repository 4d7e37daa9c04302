/// A device that runs a training run's forward and backward passes in place of the CPU model,
/// such as a GPU (`CUDAAccelerator` in CUDABackend).
///
/// The run's host arenas stay the model's state: the optimizer steps, averaging, state hashes,
/// downloads and checkpoints all work on them as on the CPU, so peers on different devices
/// apply the same update with the same arithmetic and keep bit-identical parameters. The
/// device gets the parameters when they changed (once per step, or per round under local
/// SGD's outer step) and gives back the summed gradient once per step.
///
/// A device that fails mid-run ends the process with one line naming the failure: training
/// cannot go on with gradients it did not compute.
public protocol TrainingAccelerator: AnyObject {
    /// What runs the passes, for logs and `--json` output: e.g. "NVIDIA H100 (CUDA, sm_90)".
    var description: String { get }
    /// Replaces the device's parameters with `parameters` (the whole arena).
    func load(parameters: FlatBuffer<Float>)
    func zeroGradients()
    /// Runs forward and backward on tokens[B·T] against targets[B·T], adds the mean gradient to
    /// the device's sum and returns the mean loss.
    func accumulateGradients(tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                             batch: Int, time: Int) -> Double
    /// The mean loss of tokens[B·T] against targets[B·T], without gradients.
    func loss(tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>, batch: Int, time: Int) -> Double
    /// Logits[B·T, V] of tokens[B·T], for sampling.
    func logits(tokens: UnsafeBufferPointer<Int32>, batch: Int, time: Int) -> [Float]
    /// Copies the device's gradient sum into `gradients` (the whole arena).
    func copyGradients(into gradients: FlatBuffer<Float>)
}

/// An accelerator that also keeps the optimizer's state and takes SGD steps itself, so that a
/// run that averages with nobody (`cohort train`) moves nothing to the host between steps
/// (`TrainingRun.keepStateOnAccelerator()`).
public protocol DeviceOptimizer: TrainingAccelerator {
    /// Makes the device's parameters and momentum these.
    func load(parameters: FlatBuffer<Float>, momentum: FlatBuffer<Float>)
    /// One step of `SGDOptimizer.apply` on the device's gradient sum divided by `microBatches`:
    /// the norm of that mean, clipping, decoupled decay of `decayRanges`, momentum. Returns the
    /// norm before clipping; a non-finite norm changes nothing, as on the host.
    func step(settings: SGDSettings, rate: Double, microBatches: Int, decayRanges: [Range<Int>]) -> Double
    /// Copies the device's parameters and momentum to the host.
    func copyState(parameters: FlatBuffer<Float>, momentum: FlatBuffer<Float>)
}
