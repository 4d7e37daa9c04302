/// The tanh approximation of GELU that BLOOM uses:
/// gelu(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
enum GELU {
    @inline(__always)
    static func value<Scalar: TrainingScalar>(_ x: Scalar) -> Scalar {
        let sqrtTwoOverPi: Scalar = 0.797_884_560_802_865_4
        let inner = sqrtTwoOverPi * x * (1 + 0.044715 * x * x)
        return 0.5 * x * (1 + Scalar.hyperbolicTangent(inner))
    }

    @inline(__always)
    static func derivative<Scalar: TrainingScalar>(_ x: Scalar) -> Scalar {
        let sqrtTwoOverPi: Scalar = 0.797_884_560_802_865_4
        let inner = sqrtTwoOverPi * x * (1 + 0.044715 * x * x)
        let t = Scalar.hyperbolicTangent(inner)
        let innerDerivative = sqrtTwoOverPi * (1 + 3 * 0.044715 * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * innerDerivative
    }

    static func forward<Scalar: TrainingScalar>(
        output out: UnsafeMutablePointer<Scalar>, input x: UnsafePointer<Scalar>, count: Int
    ) {
        for index in 0..<count { out[index] = value(x[index]) }
    }

    /// dx = dout · gelu′(x), written in place over `gradient` (which holds dout on entry).
    static func backward<Scalar: TrainingScalar>(
        gradient: UnsafeMutablePointer<Scalar>, input x: UnsafePointer<Scalar>, count: Int
    ) {
        for index in 0..<count { gradient[index] *= derivative(x[index]) }
    }
}
