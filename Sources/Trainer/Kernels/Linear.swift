/// Fully connected layer `y = x · Wᵀ + b` with transformers' weight layout W: [out, in].
///
/// Legend: N rows (batch × time), I input features, O output features.
enum Linear {
    /// y[N,O] = x[N,I] · W[O,I]ᵀ + b[O]; with `accumulate`, y += instead of y =.
    static func forward<Scalar: TrainingScalar>(
        output y: UnsafeMutablePointer<Scalar>, input x: UnsafePointer<Scalar>,
        weight w: UnsafePointer<Scalar>, bias b: UnsafePointer<Scalar>,
        rows n: Int, inputs i: Int, outputs o: Int, accumulate: Bool = false
    ) {
        if !accumulate {
            for row in 0..<n { (y + row * o).update(from: b, count: o) }
        } else {
            for row in 0..<n {
                let yRow = y + row * o
                for column in 0..<o { yRow[column] += b[column] }
            }
        }
        Scalar.gemm(
            transposeA: false, transposeB: true, m: n, n: o, k: i,
            alpha: 1, a: x, lda: i, b: w, ldb: i, beta: 1, c: y, ldc: o)
    }

    /// Given dy[N,O]: dW[O,I] += dyᵀ·x, db[O] += Σ_rows dy, and dx[N,I] = dy·W (overwritten).
    /// Without dW and db (a frozen layer) only dx is computed.
    static func backward<Scalar: TrainingScalar>(
        inputGradient dx: UnsafeMutablePointer<Scalar>?, weightGradient dw: UnsafeMutablePointer<Scalar>?,
        biasGradient db: UnsafeMutablePointer<Scalar>?, outputGradient dy: UnsafePointer<Scalar>,
        input x: UnsafePointer<Scalar>, weight w: UnsafePointer<Scalar>,
        rows n: Int, inputs i: Int, outputs o: Int
    ) {
        if let dw, let db {
            Scalar.gemm(
                transposeA: true, transposeB: false, m: o, n: i, k: n,
                alpha: 1, a: dy, lda: o, b: x, ldb: i, beta: 1, c: dw, ldc: i)
            for row in 0..<n {
                let dyRow = dy + row * o
                for column in 0..<o { db[column] += dyRow[column] }
            }
        }
        if let dx {
            Scalar.gemm(
                transposeA: false, transposeB: false, m: n, n: i, k: o,
                alpha: 1, a: dy, lda: o, b: w, ldb: i, beta: 0, c: dx, ldc: i)
        }
    }
}
