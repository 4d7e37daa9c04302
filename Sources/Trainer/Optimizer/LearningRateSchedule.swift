import Foundation

/// Linear warm-up to the peak learning rate, then cosine decay to a floor.
public struct LearningRateSchedule: Equatable, Sendable, Codable {
    public var peak: Double
    public var warmupSteps: Int
    /// Steps over which the cosine runs after warm-up; afterwards the rate stays at the floor.
    public var decaySteps: Int
    /// The floor as a fraction of the peak.
    public var floorFraction: Double

    public init(peak: Double, warmupSteps: Int, decaySteps: Int, floorFraction: Double = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.decaySteps = decaySteps
        self.floorFraction = floorFraction
    }

    /// The rate for optimizer step `step`, counted from 0.
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        let floor = peak * floorFraction
        guard decaySteps > 0 else { return peak }
        let progress = min(1, Double(step - warmupSteps) / Double(decaySteps))
        return floor + (peak - floor) * 0.5 * (1 + cos(Double.pi * progress))
    }
}
