/// Where reading the learning rate as a temperature (peak lr = T × global batch, Bradley &
/// Gomez-Uribe, arXiv 2108.09507) was measured to hold for config S: `cohort experiment
/// temperature` trained config S at T = 0.02 with momentum 0.9 and gradient clipping at 1 for
/// several global batches, and past a batch (a rate) it diverged instead of following the
/// same curve (docs/science.md, "SGD temperature").
///
/// The limit is a rate, not a batch: gradient descent with heavy-ball momentum μ is stable
/// while lr·λ < 2(1 + μ), λ the loss's sharpness, so a larger batch at the same T multiplies the
/// rate until it crosses that edge. Other momenta scale the measured rate by (1 + μ) / 1.9.
public enum TemperatureRange {
    /// The largest peak rate at which config S trained, with momentum 0.9.
    public static let largestStableRate = 0.48
    /// The smallest peak rate at which it diverged, with momentum 0.9.
    public static let smallestDivergedRate = 1.28
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
        return String(format: "temperature %g × %@ %d gives peak lr %.3g with momentum %g, above %.3g, where config S "
                      + "stopped training stably (docs/science.md, \"SGD temperature\"); at this temperature keep the %@ "
                      + "at most %d, or lower the temperature", temperature, batchName, batch, rate, momentum, limit, batchName, largestBatch)
    }
}
