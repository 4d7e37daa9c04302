/// Causal multi-head self-attention with ALiBi biases, on BLOOM's fused QKV layout.
///
/// Legend: B batch, T time, C channels, NH heads, HD = C/NH head dimension.
/// qkv[B,T,3C] holds, per head h, q, k and v at columns h·3·HD + {0, HD, 2·HD} (transformers'
/// `_split_heads` view [B,T,NH,3,HD]). The score of query i for key j ≤ i is
/// q·k/√HD + slope_h·(j − i); the −slope·i term is constant per row and does not change the
/// softmax, so this equals BLOOM's slope·j bias.
struct CausalAttention<Scalar: TrainingScalar> {
    let batch: Int
    let time: Int
    let channels: Int
    let headCount: Int
    let slopes: [Scalar]

    var headDimension: Int { channels / headCount }
    private var qkvStride: Int { 3 * channels }
    private var scale: Scalar { 1 / Scalar(headDimension).squareRoot() }

    /// probabilities[B,NH,T,T] (kept for backward); context[B,T,C] = softmax(scores)·v.
    func forward(
        context: UnsafeMutablePointer<Scalar>, probabilities: UnsafeMutablePointer<Scalar>,
        qkv: UnsafePointer<Scalar>
    ) {
        let hd = headDimension
        for b in 0..<batch {
            for h in 0..<headCount {
                let q = qkv + b * time * qkvStride + h * 3 * hd
                let k = q + hd
                let v = q + 2 * hd
                let p = probabilities + (b * headCount + h) * time * time
                Scalar.gemm(
                    transposeA: false, transposeB: true, m: time, n: time, k: hd,
                    alpha: scale, a: q, lda: qkvStride, b: k, ldb: qkvStride, beta: 0, c: p, ldc: time)
                softmaxCausalRows(p, slope: slopes[h])
                Scalar.gemm(
                    transposeA: false, transposeB: false, m: time, n: hd, k: time,
                    alpha: 1, a: p, lda: time, b: v, ldb: qkvStride,
                    beta: 0, c: context + b * time * channels + h * hd, ldc: channels)
            }
        }
    }

    /// Given dcontext[B,T,C], writes dqkv[B,T,3C]. `scratch` holds T×T scalars.
    func backward(
        qkvGradient dqkv: UnsafeMutablePointer<Scalar>, contextGradient dcontext: UnsafePointer<Scalar>,
        probabilities: UnsafePointer<Scalar>, qkv: UnsafePointer<Scalar>, scratch dp: UnsafeMutablePointer<Scalar>
    ) {
        let hd = headDimension
        for b in 0..<batch {
            for h in 0..<headCount {
                let rowOffset = b * time * qkvStride + h * 3 * hd
                let q = qkv + rowOffset, k = q + hd, v = q + 2 * hd
                let dq = dqkv + rowOffset, dk = dq + hd, dv = dq + 2 * hd
                let p = probabilities + (b * headCount + h) * time * time
                let dc = dcontext + b * time * channels + h * hd
                // dv = pᵀ·dcontext ; dp = dcontext·vᵀ
                Scalar.gemm(
                    transposeA: true, transposeB: false, m: time, n: hd, k: time,
                    alpha: 1, a: p, lda: time, b: dc, ldb: channels, beta: 0, c: dv, ldc: qkvStride)
                Scalar.gemm(
                    transposeA: false, transposeB: true, m: time, n: time, k: hd,
                    alpha: 1, a: dc, lda: channels, b: v, ldb: qkvStride, beta: 0, c: dp, ldc: time)
                softmaxBackwardRows(dp, probabilities: p)
                // scores = scale·q·kᵀ: dq = scale·dscores·k ; dk = scale·dscoresᵀ·q
                Scalar.gemm(
                    transposeA: false, transposeB: false, m: time, n: hd, k: time,
                    alpha: scale, a: dp, lda: time, b: k, ldb: qkvStride, beta: 0, c: dq, ldc: qkvStride)
                Scalar.gemm(
                    transposeA: true, transposeB: false, m: time, n: hd, k: time,
                    alpha: scale, a: dp, lda: time, b: q, ldb: qkvStride, beta: 0, c: dk, ldc: qkvStride)
            }
        }
    }

    /// In place over scores[T,T]: adds the ALiBi bias, masks keys after the query, softmaxes.
    private func softmaxCausalRows(_ scores: UnsafeMutablePointer<Scalar>, slope: Scalar) {
        for i in 0..<time {
            let row = scores + i * time
            var maximum = -Scalar.greatestFiniteMagnitude
            for j in 0...i {
                row[j] += slope * Scalar(j - i)
                maximum = max(maximum, row[j])
            }
            for j in 0...i { row[j] -= maximum }
            Scalar.exponentialInPlace(row, count: i + 1)
            var sum: Scalar = 0
            for j in 0...i { sum += row[j] }
            let inverse = 1 / sum
            for j in 0...i { row[j] *= inverse }
            if i + 1 < time { (row + i + 1).update(repeating: 0, count: time - i - 1) }
        }
    }

    /// In place over dp[T,T]: dscores = p ⊙ (dp − Σ_j dp·p). Masked entries have p = 0 and stay 0.
    private func softmaxBackwardRows(_ dp: UnsafeMutablePointer<Scalar>, probabilities p: UnsafePointer<Scalar>) {
        for i in 0..<time {
            let dRow = dp + i * time
            let pRow = p + i * time
            var dot: Scalar = 0
            for j in 0...i { dot += dRow[j] * pRow[j] }
            for j in 0...i { dRow[j] = pRow[j] * (dRow[j] - dot) }
            if i + 1 < time { (dRow + i + 1).update(repeating: 0, count: time - i - 1) }
        }
    }
}
