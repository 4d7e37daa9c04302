import Trainer

/// The Hessian's eigenvalue of largest magnitude ("sharpness"), found by power iteration on
/// Hessian-vector products taken as central differences of gradients:
/// H·v ≈ (∇L(θ + εv) − ∇L(θ − εv)) / 2ε, exact for a quadratic and O(ε²) off otherwise.
///
/// Only gradients are needed, so it runs on the trainer's own backward pass (Cohen et al.,
/// "Gradient descent on neural networks typically occurs at the edge of stability", measure
/// sharpness the same way; Bradley & Gomez-Uribe §5 relate it to the SGD temperature).
public enum HessianPowerIteration {
    public struct Estimate: Codable, Equatable, Sendable {
        /// The Rayleigh quotient vᵀHv at the last iterate.
        public let eigenvalue: Double
        /// |λ_last − λ_previous| / |λ_last|: how far the iteration was from converged.
        public let relativeChange: Double
        public let iterations: Int
    }

    /// Iterates from a seeded random unit vector; `gradient` maps parameters to ∇L there.
    public static func topEigenvalue(
        at point: [Double], step epsilon: Double, iterations: Int, seed: UInt64, gradient: ([Double]) -> [Double]
    ) -> Estimate {
        precondition(iterations >= 2 && epsilon > 0, "power iteration needs ≥ 2 iterations and ε > 0, got \(iterations), \(epsilon)")
        var generator = SeededGenerator(seed: seed)
        var direction = normalised((0..<point.count).map { _ in generator.nextGaussian() })
        var eigenvalue = 0.0, previous = 0.0
        for _ in 0..<iterations {
            let product = hessianVectorProduct(at: point, direction: direction, step: epsilon, gradient: gradient)
            previous = eigenvalue
            eigenvalue = dot(direction, product)
            direction = normalised(product)
        }
        let change = abs(eigenvalue - previous) / max(abs(eigenvalue), .leastNormalMagnitude)
        return Estimate(eigenvalue: eigenvalue, relativeChange: change, iterations: iterations)
    }

    /// (∇L(θ + εv) − ∇L(θ − εv)) / 2ε for a unit vector v.
    static func hessianVectorProduct(
        at point: [Double], direction: [Double], step epsilon: Double, gradient: ([Double]) -> [Double]
    ) -> [Double] {
        let ahead = gradient(zip(point, direction).map { $0 + epsilon * $1 })
        let behind = gradient(zip(point, direction).map { $0 - epsilon * $1 })
        return zip(ahead, behind).map { ($0 - $1) / (2 * epsilon) }
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    static func normalised(_ vector: [Double]) -> [Double] {
        let norm = dot(vector, vector).squareRoot()
        return norm > 0 ? vector.map { $0 / norm } : vector
    }
}
