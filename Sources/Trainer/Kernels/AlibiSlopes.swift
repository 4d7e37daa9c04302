import Foundation

/// The per-head slopes of ALiBi's linear attention bias (Press et al., ALiBi §3).
///
/// For n heads with n a power of two the slopes are the geometric sequence starting at and
/// multiplying by 2^(−8/n). For other n, the sequence for the largest power of two below n is
/// followed by every other slope of the sequence for twice that power, as the paper's reference
/// code (and BLOOM) do.
public enum AlibiSlopes {
    public static func slopes(headCount: Int) -> [Double] {
        precondition(headCount > 0, "ALiBi needs at least one head, got \(headCount)")
        let lowerPower = 1 << (Int.bitWidth - 1 - headCount.leadingZeroBitCount)
        var slopes = geometric(power: lowerPower).prefix(lowerPower).map { $0 }
        if lowerPower != headCount {
            let extra = geometric(power: 2 * lowerPower)
            slopes += stride(from: 0, to: 2 * (headCount - lowerPower), by: 2).map { extra[$0] }
        }
        return slopes
    }

    /// 2^(−8/n·k) for k = 1…n.
    private static func geometric(power n: Int) -> [Double] {
        let start = pow(2.0, -8.0 / Double(n))
        return (1...n).map { pow(start, Double($0)) }
    }
}
