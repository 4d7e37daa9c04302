/// Layer normalisation over the last dimension, with learned scale and shift.
///
/// Legend: N rows, C channels. Mean and reciprocal standard deviation are kept per row for the
/// backward pass.
enum LayerNorm {
    /// out[N,C] = (x − mean) · rstd · w + b
    static func forward<Scalar: TrainingScalar>(
        output out: UnsafeMutablePointer<Scalar>, mean: UnsafeMutablePointer<Scalar>,
        reciprocalStandardDeviation rstd: UnsafeMutablePointer<Scalar>,
        input x: UnsafePointer<Scalar>, weight w: UnsafePointer<Scalar>, bias b: UnsafePointer<Scalar>,
        rows n: Int, channels c: Int, epsilon: Scalar
    ) {
        let inverseC = 1 / Scalar(c)
        Parallel.forEachRange(count: n, cost: 4 * c) { rows in
        for row in rows {
            let xRow = x + row * c
            let outRow = out + row * c
            var sum: Scalar = 0
            for j in 0..<c { sum += xRow[j] }
            let m = sum * inverseC
            var squares: Scalar = 0
            for j in 0..<c {
                let d = xRow[j] - m
                squares += d * d
            }
            let r = 1 / (squares * inverseC + epsilon).squareRoot()
            for j in 0..<c { outRow[j] = (xRow[j] - m) * r * w[j] + b[j] }
            mean[row] = m
            rstd[row] = r
        }
        }
    }

    /// Differentiates out = x̂·w + b with x̂ = (x − mean)·rstd: dw += Σ dout·x̂, db += Σ dout,
    /// dx += rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂·x̂)) where dx̂ = dout·w.
    static func backward<Scalar: TrainingScalar>(
        inputGradient dx: UnsafeMutablePointer<Scalar>, weightGradient dw: UnsafeMutablePointer<Scalar>,
        biasGradient db: UnsafeMutablePointer<Scalar>, outputGradient dout: UnsafePointer<Scalar>,
        input x: UnsafePointer<Scalar>, weight w: UnsafePointer<Scalar>,
        mean: UnsafePointer<Scalar>, reciprocalStandardDeviation rstd: UnsafePointer<Scalar>,
        rows n: Int, channels c: Int
    ) {
        let inverseC = 1 / Scalar(c)
        Parallel.forEachRange(count: n, cost: 6 * c) { rows in
            for row in rows {
                let xRow = x + row * c, doutRow = dout + row * c, dxRow = dx + row * c
                let m = mean[row], r = rstd[row]
                var meanDxHat: Scalar = 0
                var meanDxHatXHat: Scalar = 0
                for j in 0..<c {
                    let dxHat = doutRow[j] * w[j]
                    meanDxHat += dxHat
                    meanDxHatXHat += dxHat * (xRow[j] - m) * r
                }
                meanDxHat *= inverseC
                meanDxHatXHat *= inverseC
                for j in 0..<c {
                    let xHat = (xRow[j] - m) * r
                    dxRow[j] += r * (doutRow[j] * w[j] - meanDxHat - xHat * meanDxHatXHat)
                }
            }
        }
        // Parameter gradients sum over rows; split by channel so that threads never share a sum.
        Parallel.forEachRange(count: c, cost: 4 * n) { channels in
            for row in 0..<n {
                let xRow = x + row * c, doutRow = dout + row * c
                let m = mean[row], r = rstd[row]
                for j in channels {
                    dw[j] += doutRow[j] * (xRow[j] - m) * r
                    db[j] += doutRow[j]
                }
            }
        }
    }
}
