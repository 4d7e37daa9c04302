/// How an owner combines the members' contributions to a chunk of its part.
///
/// `mean` is the sample-weighted mean, reduced as contributions arrive. The two robust choices
/// are for runs that expect Byzantine peers (BTARD, arXiv 2106.11257): they bound how far one
/// member sending scaled or random values can move the average, at the price of holding every
/// contribution to a chunk until the chunk is complete (members × chunk size floats, which the
/// owner's checks hold anyway) and of a few more passes over them (docs/benchmarks.md,
/// "Robust aggregation"). Both weigh every contribution equally: sample counts are what each
/// member declares, so weighting by them would let one peer buy as much influence as it likes.
///
/// Both work per chunk (65,536 values by default), not per part: members send chunk k + 1 of a
/// part only once averages of earlier chunks came back (the send window), so an owner never
/// holds a whole part. Clipping a chunk still bounds a member's effect on every chunk, hence
/// on the whole part.
///
/// The text form (`description`, `init(parsing:)`) is what run configs and command lines carry:
/// `mean`, `trimmed-mean:fraction=0.25`, `centered-clip:tau=1,iterations=5`.
public enum Aggregation: Hashable, Sendable {
    /// The sample-weighted mean (exact, streaming).
    case mean
    /// Per coordinate, drop the k largest and k smallest values, k = ⌊fraction · n⌋ for n
    /// contributions, and average the rest unweighted. Tolerates k Byzantine members per chunk;
    /// with fraction · n < 1 it is the unweighted mean.
    case trimmedMean(fraction: Double)
    /// CenteredClip (Karimireddy et al., arXiv 2012.10333, as used by BTARD): from the
    /// coordinate-wise median v₀, repeat `iterations` times
    /// v ← v + (1/n) Σᵢ (xᵢ − v) · min(1, r / ‖xᵢ − v‖). The clipping radius is
    /// r = tau × the median of ‖xᵢ − v₀‖, not an absolute norm as in BTARD, so one setting
    /// works whatever the gradients' scale at this step. A member's pull on the result is at
    /// most r/n per iteration, however far away it is.
    case centeredClip(tau: Double, iterations: Int)

    public static let defaultTrimFraction = 0.25
    public static let defaultClipTau = 1.0
    public static let defaultClipIterations = 5
    /// The largest tau accepted: beyond it nothing honest is ever clipped and the clip is a mean.
    public static let maximumClipTau = 1_000.0
    public static let maximumClipIterations = 100

    /// Why these parameters are unusable, or nil.
    public var problem: String? {
        switch self {
        case .mean:
            return nil
        case .trimmedMean(let fraction):
            guard fraction > 0, fraction < 0.5 else { return "trim fraction \(fraction) must be above 0 and below 0.5" }
            return nil
        case .centeredClip(let tau, let iterations):
            guard tau > 0, tau <= Self.maximumClipTau else {
                return "clip tau \(tau) must be above 0 and at most \(Int(Self.maximumClipTau))"
            }
            guard (1...Self.maximumClipIterations).contains(iterations) else {
                return "clip iterations \(iterations) must be between 1 and \(Self.maximumClipIterations)"
            }
            return nil
        }
    }

    /// Values trimmed from each end of a coordinate with `contributions` contributions.
    static func trimCount(fraction: Double, contributions: Int) -> Int {
        Int((fraction * Double(contributions)).rounded(.down))
    }
}
