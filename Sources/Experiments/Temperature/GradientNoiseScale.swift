/// The simple gradient noise scale B_simple = tr(Σ)/|G|² (McCandlish et al., "An Empirical
/// Model of Large-Batch Training", arXiv 1812.06162, §2.2 and appendix A): the batch size past
/// which a larger batch stops buying proportionally fewer steps.
///
/// A batch of B samples gives E|G_B|² = |G|² + tr(Σ)/B, so squared norms at two batch sizes
/// solve for both unknowns.
public struct GradientNoiseScale: Codable, Equatable, Sendable {
    /// Estimate of |G|², the squared norm of the true gradient.
    public let gradientNormSquared: Double
    /// Estimate of tr(Σ), the per-sample gradient variance summed over parameters.
    public let traceCovariance: Double

    /// tr(Σ)/|G|²; nil when the |G|² estimate is not positive (noise swamps the signal).
    public var simple: Double? { gradientNormSquared > 0 ? traceCovariance / gradientNormSquared : nil }

    /// From the mean squared gradient norm at a small and at a big batch size.
    public init(smallBatch: Int, smallNormSquared: Double, bigBatch: Int, bigNormSquared: Double) {
        precondition(bigBatch > smallBatch && smallBatch >= 1, "need 1 ≤ small batch < big batch, got \(smallBatch), \(bigBatch)")
        let small = Double(smallBatch), big = Double(bigBatch)
        gradientNormSquared = (big * bigNormSquared - small * smallNormSquared) / (big - small)
        traceCovariance = (smallNormSquared - bigNormSquared) / (1 / small - 1 / big)
    }
}
