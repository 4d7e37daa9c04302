@testable import Trainer

/// Central finite differences in float64, the reference every backward pass is checked against.
enum GradientCheck {
    /// Largest |analytic − numeric| / max(1, |numeric|) over the entries of `values`.
    static func worstError(
        values: UnsafeMutablePointer<Double>, count: Int, analytic: [Double],
        epsilon: Double = 1e-6, loss: () -> Double
    ) -> Double {
        var worst = 0.0
        for index in 0..<count {
            let saved = values[index]
            values[index] = saved + epsilon
            let plus = loss()
            values[index] = saved - epsilon
            let minus = loss()
            values[index] = saved
            let numeric = (plus - minus) / (2 * epsilon)
            worst = max(worst, abs(analytic[index] - numeric) / max(1, abs(numeric)))
        }
        return worst
    }

    static func randomBuffer(_ count: Int, generator: inout SeededGenerator, scale: Double = 1) -> FlatBuffer<Double> {
        let buffer = FlatBuffer<Double>(count: count)
        for index in 0..<count { buffer[index] = generator.nextGaussian() * scale }
        return buffer
    }

    /// Σ out·weights: a scalar loss whose gradient with respect to out is `weights`.
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int) -> Double {
        var sum = 0.0
        for index in 0..<count { sum += a[index] * b[index] }
        return sum
    }
}
