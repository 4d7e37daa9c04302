/// Where reading the learning rate as a temperature (peak lr = T × global batch, Bradley &
/// Gomez-Uribe, arXiv 2108.09507) was measured to hold for config S: `cohort experiment
/// temperature` trained config S at T = 0.02 with momentum 0.9, gradient clipping at 1 and a
/// 10 % warm-up on the same samples at global batches 8 to 64. Up to 24 (lr 0.48) the loss fell
/// smoothly; from 32 (lr 0.64) it spiked above where it started during warm-up (to 9.2 at 64, as
/// in the 4-peer run) and, clipped, recovered to a worse loss (docs/science.md, "SGD temperature").
///
/// The limit is a rate, not a batch: gradient descent with heavy-ball momentum μ is stable
/// while lr·λ < 2(1 + μ), λ the loss's sharpness, so a larger batch at the same T multiplies the
/// rate until it crosses that edge. Other momenta scale the measured rate by (1 + μ) / 1.9.
public enum TemperatureRange {
    /// The largest peak rate at which config S trained without a loss spike, with momentum 0.9.
    public static let largestStableRate = 0.48
    /// The smallest peak rate at which its loss spiked, with momentum 0.9.
    public static let smallestUnstableRate = 0.64
    static let measuredMomentum = 0.9

    /// `largestStableRate` moved to momentum `momentum` by the heavy-ball stability bound.
    public static func largestStableRate(momentum: Double) -> Double {
        largestStableRate * (1 + momentum) / (1 + measuredMomentum)
    }

    /// A one-line warning when `temperature` × `batch` is past the measured stable rate; nil
    /// inside it. `batchName` is how the caller's user knows the batch ("batch", "target batch").
    public static func warning(temperature: Double, batch: Int, momentum: Double, batchName: String) -> String? {
        let rate = temperature * Double(batch), limit = largestStableRate(momentum: momentum)
        guard rate > limit else { return nil }
        let largestBatch = Int((limit / temperature).rounded(.down))
        return String(format: "temperature %g × %@ %d gives peak lr %.3g with momentum %g, above %.3g, past which config S's "
                      + "loss spiked (docs/science.md, \"SGD temperature\"); at this temperature keep the %@ "
                      + "at most %d, or lower the temperature", temperature, batchName, batch, rate, momentum, limit, batchName, largestBatch)
    }
}
