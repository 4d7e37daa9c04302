/// Standalone training with the whole state on the accelerator: the parameters, gradients and
/// momentum stay in device memory, and the host copies are brought up to date only when
/// something reads them (a checkpoint).
extension TrainingRun {
    public struct DeviceOptimizerError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Moves the optimizer to the accelerator. Only for a run that averages with nobody: peers
    /// apply averaged updates on the host, with the same arithmetic everywhere.
    public func keepStateOnAccelerator() throws {
        guard let device = accelerator as? any DeviceOptimizer else {
            throw DeviceOptimizerError(description: "the accelerator cannot take optimizer steps")
        }
        guard outer == nil, trainableRange.count == model.parameters.count else {
            throw DeviceOptimizerError(description: "local SGD and prompt tuning take their steps on the host")
        }
        device.load(parameters: model.parameters, momentum: optimizer.momentumBuffer)
        deviceOptimizer = device
        markAcceleratorHoldsParameters()
    }

    /// The step `applyUpdate` takes when the state lives on the accelerator.
    func applyUpdateOnDevice(_ device: any DeviceOptimizer) -> (learningRate: Double, gradientNorm: Double) {
        let rate = settings.schedule.rate(at: optimizer.step)
        let norm = device.step(settings: settings.sgd, rate: rate, microBatches: max(accumulatedMicroBatches, 1),
                               decayRanges: model.layout.tensors.filter(\.decays).map { $0.offset..<($0.offset + $0.count) })
        optimizer.step += 1
        hostStateIsStale = true
        return (rate, norm)
    }

    /// Brings the host's parameters and momentum up to date with the accelerator's.
    func copyStateFromDevice() {
        guard let deviceOptimizer, hostStateIsStale else { return }
        deviceOptimizer.copyState(parameters: model.parameters, momentum: optimizer.momentumBuffer)
        hostStateIsStale = false
    }
}
