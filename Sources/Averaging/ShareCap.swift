/// Bounds what one member wins by what it declares about itself.
///
/// A member's bandwidth decides how much of the vector it owns (`LoadBalancing`), and its sample
/// count how much its gradient weighs in every average (`AllReduceRound`). Both are declared by
/// the member and nobody can check them, so a member that declares 2⁵⁰ bit/s would own the whole
/// vector (and write every average) and one that declares 2⁴⁰ samples would outweigh everyone.
/// Every member therefore counts a declared value for at most `medianMultiple` times the group's
/// lower median of the positive values. The median moves only when half the group lies, so an
/// honest majority keeps every liar at a bounded share: with three owners, one of them owns at
/// most half the vector whatever it declares. The price is that an honest member twice as fast
/// as the median is counted as only that fast. The arithmetic is on integers, so every member
/// derives the same bounds.
public enum ShareCap {
    /// How many times the group's median one member's declared value can count for.
    public static let medianMultiple: UInt64 = 2

    /// `values` with each one cut to `medianMultiple` times the lower median of the positive
    /// ones; zeros stay zero, and all-zero input is returned as it is.
    public static func capped(_ values: [UInt64]) -> [UInt64] {
        guard let median = lowerMedian(ofPositive: values) else { return values }
        let (bound, overflow) = median.multipliedReportingOverflow(by: medianMultiple)
        return overflow ? values : values.map { min($0, bound) }
    }

    /// The lower median of the positive values (with n of them, fewer than half cannot raise
    /// it); nil when none is positive.
    static func lowerMedian(ofPositive values: [UInt64]) -> UInt64? {
        let positive = values.filter { $0 > 0 }.sorted()
        return positive.isEmpty ? nil : positive[(positive.count - 1) / 2]
    }
}
