/// The tanh approximation of GELU that BLOOM uses:
/// gelu(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
///
/// Both passes work in blocks: the tanh arguments of a block go through the vectorised tanh in
/// a stack buffer, so the transcendental work is batched without a second pass over memory.
enum GELU {
    private static let blockSize = 256

    @inline(__always)
    static func tanhArgument<Scalar: TrainingScalar>(_ x: Scalar) -> Scalar {
        0.797_884_560_802_865_4 * x * (1 + 0.044715 * x * x)
    }

    static func value<Scalar: TrainingScalar>(_ x: Scalar) -> Scalar {
        0.5 * x * (1 + Scalar.hyperbolicTangent(tanhArgument(x)))
    }

    static func forward<Scalar: TrainingScalar>(
        output out: UnsafeMutablePointer<Scalar>, input x: UnsafePointer<Scalar>, count: Int
    ) {
        Parallel.forEachRange(count: count, cost: 20) { range in
            withTanhBlocks(input: x, range: range) { start, length, t in
                for i in 0..<length {
                    let v = x[start + i]
                    out[start + i] = 0.5 * v * (1 + t[i])
                }
            }
        }
    }

    /// dx = dout · gelu′(x), written in place over `gradient` (which holds dout on entry), with
    /// gelu′(x) = ½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²) and t the tanh above.
    static func backward<Scalar: TrainingScalar>(
        gradient: UnsafeMutablePointer<Scalar>, input x: UnsafePointer<Scalar>, count: Int
    ) {
        Parallel.forEachRange(count: count, cost: 30) { range in
            withTanhBlocks(input: x, range: range) { start, length, t in
                for i in 0..<length {
                    let v = x[start + i], ti = t[i]
                    let argumentDerivative: Scalar = 0.797_884_560_802_865_4 * (1 + 3 * 0.044715 * v * v)
                    gradient[start + i] *= 0.5 * (1 + ti) + 0.5 * v * (1 - ti * ti) * argumentDerivative
                }
            }
        }
    }

    /// Calls `body(start, length, tanh values)` for consecutive blocks of the input range.
    @inline(__always)
    private static func withTanhBlocks<Scalar: TrainingScalar>(
        input x: UnsafePointer<Scalar>, range: Range<Int>,
        _ body: (Int, Int, UnsafeMutablePointer<Scalar>) -> Void
    ) {
        withUnsafeTemporaryAllocation(of: Scalar.self, capacity: blockSize) { block in
            let t = block.baseAddress!
            var start = range.lowerBound
            while start < range.upperBound {
                let length = min(blockSize, range.upperBound - start)
                for i in 0..<length { t[i] = tanhArgument(x[start + i]) }
                Scalar.hyperbolicTangentInPlace(t, count: length)
                body(start, length, t)
                start += length
            }
        }
    }
}
