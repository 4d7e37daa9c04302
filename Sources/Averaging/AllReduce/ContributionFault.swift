/// Why an owner refused a member's chunk of its part (issue 6, "Poisoned or broken
/// contributions"); the round drops the sender with this as the reason.
enum ContributionFault: Hashable, Sendable, CustomStringConvertible {
    /// The chunk decodes to this many NaN or infinite values.
    case nonFinite(count: Int)
    /// The chunk's L2 norm exceeds the bound: `normBoundFactor` × the chunk's median norm.
    case normAboveBound(norm: Double, median: Double)

    var description: String {
        switch self {
        case .nonFinite(let count):
            "\(count) non-finite values"
        case .normAboveBound(let norm, let median):
            "norm \(Self.compact(norm)) is \(Self.compact(norm / median))× the median \(Self.compact(median))"
        }
    }

    /// NaN and infinite values counted, and the L2 norm (in Double, so a finite chunk's norm
    /// cannot overflow) of `values`.
    static func nonFiniteCountAndNorm(of values: UnsafeBufferPointer<Float>) -> (nonFinite: Int, norm: Double) {
        let (nonFinite, sumOfSquares) = Compression.none.nonFiniteCountAndSumOfSquares(UnsafeRawBufferPointer(values),
                                                                                       elementCount: values.count)
        return (nonFinite, sumOfSquares.squareRoot())
    }

    /// A positive number in three significant digits or fewer for a log line: "352", "2.5",
    /// "8.1e4", "3.2e-5".
    static func compact(_ value: Double) -> String {
        guard value.isFinite, value > 0 else { return "\(value)" }
        if value >= 1, value < 10_000 {
            return value >= 100 ? "\(Int(value.rounded()))" : "\((value * 10).rounded() / 10)"
        }
        var mantissa = value
        var exponent = 0
        while mantissa >= 10 {
            mantissa /= 10
            exponent += 1
        }
        while mantissa < 1 {
            mantissa *= 10
            exponent -= 1
        }
        return "\((mantissa * 10).rounded() / 10)e\(exponent)"
    }
}
