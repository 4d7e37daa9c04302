import COpenBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A floating-point type the model can be computed in.
///
/// Training runs in `Float`; the same generic kernels run in `Double` so that gradient checks
/// against finite differences are not drowned by rounding error.
public protocol TrainingScalar: BinaryFloatingPoint, Sendable {
    static func exponential(_ x: Self) -> Self
    static func logarithm(_ x: Self) -> Self
    static func hyperbolicTangent(_ x: Self) -> Self
    /// values[i] = e^values[i] for a run of values (vectorised where the type allows).
    static func exponentialInPlace(_ values: UnsafeMutablePointer<Self>, count: Int)
    /// values[i] = tanh(values[i]) for a run of values (vectorised where the type allows).
    static func hyperbolicTangentInPlace(_ values: UnsafeMutablePointer<Self>, count: Int)

    /// Row-major `C = alpha · op(A) · op(B) + beta · C` with `op(A)` of shape m×k and `op(B)` k×n.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int
    )
}

@inline(__always)
private func transposeFlag(_ transpose: Bool) -> CBLAS_TRANSPOSE {
    transpose ? CblasTrans : CblasNoTrans
}

extension Float: TrainingScalar {
    @inline(__always) public static func exponential(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func logarithm(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func hyperbolicTangent(_ x: Float) -> Float { tanhf(x) }
    public static func exponentialInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
        VectorMath.expInPlace(values, count: count)
    }
    public static func hyperbolicTangentInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
        VectorMath.tanhInPlace(values, count: count)
    }

    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeFlag(transposeA), transposeFlag(transposeB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Double: TrainingScalar {
    @inline(__always) public static func exponential(_ x: Double) -> Double { exp(x) }
    @inline(__always) public static func logarithm(_ x: Double) -> Double { log(x) }
    @inline(__always) public static func hyperbolicTangent(_ x: Double) -> Double { tanh(x) }
    public static func exponentialInPlace(_ values: UnsafeMutablePointer<Double>, count: Int) {
        for index in 0..<count { values[index] = exp(values[index]) }
    }
    public static func hyperbolicTangentInPlace(_ values: UnsafeMutablePointer<Double>, count: Int) {
        for index in 0..<count { values[index] = tanh(values[index]) }
    }

    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transposeFlag(transposeA), transposeFlag(transposeB),
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
