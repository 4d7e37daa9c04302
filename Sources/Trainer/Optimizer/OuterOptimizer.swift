/// Local SGD's outer step (DiLoCo, arXiv 2311.08105): peers train their own copy of the
/// parameters for several inner steps, then average how far each moved from the run's shared
/// parameters (the pseudo-gradient Δ = θ_outer − θ_local) and all apply the same outer update,
/// SGD with Nesterov momentum, to the shared parameters.
///
/// The shared parameters and the outer momentum are the run's state: what peers hash, download
/// and checkpoint. The inner parameters and inner momentum are each peer's own. Every operation
/// is elementwise in a fixed order, so peers applying the same averaged Δ to the same state end
/// bit-identical.
public final class OuterOptimizer {
    /// θ_outer: the parameters of the last outer step, which every member holds alike.
    public let parameters: FlatBuffer<Float>
    /// The outer Nesterov momentum.
    public let momentum: FlatBuffer<Float>
    public let settings: LocalSGDSettings
    /// Outer steps taken: the run's step.
    public var step = 0

    public init(settings: LocalSGDSettings, parameterCount: Int) {
        self.settings = settings
        parameters = FlatBuffer(count: parameterCount)
        momentum = FlatBuffer(count: parameterCount)
    }

    /// Writes Δ = θ_outer − θ_local into `pseudoGradient`.
    public func writePseudoGradient(local: FlatBuffer<Float>, into pseudoGradient: FlatBuffer<Float>) {
        precondition(local.count == parameters.count && pseudoGradient.count == parameters.count,
                     "outer buffers differ: \(local.count), \(pseudoGradient.count), \(parameters.count)")
        let outer = parameters.base, inner = local.base, delta = pseudoGradient.base
        for index in 0..<parameters.count { delta[index] = outer[index] - inner[index] }
    }

    /// Applies the averaged `pseudoGradient` to the shared parameters (elements in `skipped`
    /// keep theirs and their momentum, as every member of the round skips them alike). Returns
    /// the pseudo-gradient's norm over the updated elements; a non-finite one changes nothing but
    /// the step count (one NaN from a faulty partner must not spread through the momentum).
    ///
    /// Each buffer in `carried` moves by what its element of the shared parameters moved, in the
    /// same pass: a late joiner's own parameters follow a replayed update that way
    /// (`TrainingRun.applyReplayedUpdate`).
    @discardableResult
    public func apply(pseudoGradient: FlatBuffer<Float>, skipping skipped: [Range<Int>] = [],
                      carrying carried: [FlatBuffer<Float>] = []) -> Double {
        precondition(pseudoGradient.count == parameters.count, "outer buffers differ: \(pseudoGradient.count), \(parameters.count)")
        precondition(carried.allSatisfy { $0.count == parameters.count },
                     "carried buffers differ: \(carried.map(\.count)), \(parameters.count)")
        let updated = SGDOptimizer.complement(of: skipped, in: 0..<parameters.count)
        let norm = SGDOptimizer.norm(of: pseudoGradient, over: updated)
        if norm.isFinite {
            let mu = Float(settings.outerMomentum), lr = Float(settings.outerLearningRate)
            let delta = pseudoGradient.base, p = parameters.base, v = momentum.base
            let followers = carried.map(\.base)
            for range in updated {
                for index in range {
                    let velocity = mu * v[index] + delta[index]
                    v[index] = velocity
                    let shift = lr * (delta[index] + mu * velocity)
                    p[index] -= shift
                    for follower in followers { follower[index] -= shift }
                }
            }
        }
        step += 1
        return norm
    }
}

/// How a run trains between averaging rounds: `localSteps` inner SGD steps per outer step
/// (1: every step is averaged, as in DeDLOC), and the outer optimizer's settings.
public struct LocalSGDSettings: Equatable, Sendable, Codable {
    public var localSteps: Int = 1
    /// Plain averaging by default (outer lr 1, no momentum). DiLoCo's 0.7 with Nesterov 0.9 is
    /// tuned for AdamW inner steps; on top of inner SGD at the run's rate it diverged in
    /// `cohort demo` (docs/operations.md, "Local SGD").
    public var outerLearningRate: Double = 1
    public var outerMomentum: Double = 0
    /// Streaming local SGD (Streaming DiLoCo, arXiv 2501.18512): the parameters are cut into
    /// this many fragments, and each round averages one of them, in turn, every
    /// `localSteps / fragments` target batches; every fragment is still averaged once per
    /// `localSteps`. A round moves a fragment's worth of bytes, so the link's peak load falls by
    /// the fragment count at the same bytes per token. 1: every round averages everything.
    public var fragments: Int = 1

    public init(localSteps: Int = 1, outerLearningRate: Double = 1, outerMomentum: Double = 0, fragments: Int = 1) {
        self.localSteps = localSteps
        self.outerLearningRate = outerLearningRate
        self.outerMomentum = outerMomentum
        self.fragments = fragments
    }

    /// Target batches trained between two rounds.
    public var localStepsPerRound: Int { localSteps / validFragments }

    /// `fragments`, or 1 where it is out of range, so that settings not validated yet
    /// (`problem`) cannot divide by zero.
    private var validFragments: Int { (1...max(1, localSteps)).contains(fragments) ? fragments : 1 }

    /// The elements of a vector of `elementCount` that the round taking the run from `step`
    /// averages: fragment `step mod fragments`, contiguous slices of equal size (±1) in the
    /// model's parameter order, so each holds whole layers' worth of neighbours.
    public func fragment(atStep step: Int, of elementCount: Int) -> Range<Int> {
        precondition(step >= 0 && elementCount >= 0, "fragment of step \(step) over \(elementCount) elements")
        let count = validFragments, index = step % count
        return index * elementCount / count..<(index + 1) * elementCount / count
    }

    /// The elements the round from `step` leaves to local training: all outside its fragment.
    public func elementsOutsideFragment(atStep step: Int, of elementCount: Int) -> [Range<Int>] {
        let fragment = fragment(atStep: step, of: elementCount)
        return [0..<fragment.lowerBound, fragment.upperBound..<elementCount].filter { !$0.isEmpty }
    }

    private enum CodingKeys: String, CodingKey {
        case localSteps, outerLearningRate, outerMomentum, fragments
    }

    /// Missing fields take their defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        localSteps = try container.decodeIfPresent(Int.self, forKey: .localSteps) ?? localSteps
        outerLearningRate = try container.decodeIfPresent(Double.self, forKey: .outerLearningRate) ?? outerLearningRate
        outerMomentum = try container.decodeIfPresent(Double.self, forKey: .outerMomentum) ?? outerMomentum
        fragments = try container.decodeIfPresent(Int.self, forKey: .fragments) ?? fragments
    }

    /// `fragments` is written only when it streams, so that the signed config of a run that
    /// does not is byte for byte what peers without fragments read.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(localSteps, forKey: .localSteps)
        try container.encode(outerLearningRate, forKey: .outerLearningRate)
        try container.encode(outerMomentum, forKey: .outerMomentum)
        if fragments != 1 { try container.encode(fragments, forKey: .fragments) }
    }

    /// The first setting out of range, said for a user; nil when all are valid.
    public var problem: String? {
        if !(1...100_000).contains(localSteps) { return "local_steps must be in 1...100000, got \(localSteps)" }
        if !(outerLearningRate > 0 && outerLearningRate <= 10) {
            return "outer_learning_rate must be in (0, 10], got \(outerLearningRate)"
        }
        if !(outerMomentum >= 0 && outerMomentum < 1) { return "outer_momentum must be in [0, 1), got \(outerMomentum)" }
        if !(1...localSteps).contains(fragments) || !localSteps.isMultiple(of: fragments) {
            return "fragments must divide local_steps (\(localSteps)), got \(fragments)"
        }
        return nil
    }
}
