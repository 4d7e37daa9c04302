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
    /// Training only: dropout on the probabilities that multiply v (softmax's own backward still
    /// sees the undropped ones).
    var dropout: AttentionDropout? = nil

    var headDimension: Int { channels / headCount }
    private var qkvStride: Int { 3 * channels }
    private var scale: Scalar { 1 / Scalar(headDimension).squareRoot() }

    /// probabilities[B,NH,T,T] (kept for backward); context[B,T,C] = softmax(scores)·v.
    /// The matrix products run one (batch, head) pair at a time on all BLAS threads; the softmax
    /// between them runs over every row of every pair in parallel. With `dropout`, context =
    /// dropout(softmax(scores))·v and the dropped probabilities go to `droppedProbabilities`.
    func forward(
        context: UnsafeMutablePointer<Scalar>, probabilities: UnsafeMutablePointer<Scalar>,
        qkv: UnsafePointer<Scalar>, droppedProbabilities: UnsafeMutablePointer<Scalar>? = nil
    ) {
        let hd = headDimension
        for pair in 0..<(batch * headCount) {
            let (q, k, _) = headSlices(qkv, pair: pair)
            Scalar.gemm(
                transposeA: false, transposeB: true, m: time, n: time, k: hd,
                alpha: scale, a: q, lda: qkvStride, b: k, ldb: qkvStride, beta: 0,
                c: probabilities + pair * time * time, ldc: time)
        }
        Parallel.forEachRange(count: batch * headCount * time, cost: 8 * time) { rows in
            for row in rows {
                softmaxCausalRow(probabilities + row * time, query: row % time, slope: slopes[row / time % headCount])
            }
        }
        let weights = dropProbabilities(probabilities, into: droppedProbabilities)
        for pair in 0..<(batch * headCount) {
            let (_, _, v) = headSlices(qkv, pair: pair)
            Scalar.gemm(
                transposeA: false, transposeB: false, m: time, n: hd, k: time,
                alpha: 1, a: weights + pair * time * time, lda: time, b: v, ldb: qkvStride,
                beta: 0, c: context + contextOffset(pair: pair), ldc: channels)
        }
    }

    /// Given dcontext[B,T,C], writes dqkv[B,T,3C]. `scratch` holds B·NH·T·T scalars.
    func backward(
        qkvGradient dqkv: UnsafeMutablePointer<Scalar>, contextGradient dcontext: UnsafePointer<Scalar>,
        probabilities: UnsafePointer<Scalar>, qkv: UnsafePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        let hd = headDimension
        for pair in 0..<(batch * headCount) {
            let (_, _, v) = headSlices(qkv, pair: pair)
            let (_, _, dv) = headSlices(dqkv, pair: pair)
            let p = probabilities + pair * time * time, dp = scratch + pair * time * time
            let dc = dcontext + contextOffset(pair: pair)
            // dv = p̃ᵀ·dcontext ; dp = mask ⊙ dcontext·vᵀ, with p̃ = mask ⊙ p under dropout (else p),
            // redrawn into dp's place just before dp overwrites it.
            var weights = p
            if let dropout {
                dp.update(from: p, count: time * time)
                dropout.apply(to: dp, pair: pair, headCount: headCount, time: time)
                weights = UnsafePointer(dp)
            }
            Scalar.gemm(
                transposeA: true, transposeB: false, m: time, n: hd, k: time,
                alpha: 1, a: weights, lda: time, b: dc, ldb: channels, beta: 0, c: dv, ldc: qkvStride)
            Scalar.gemm(
                transposeA: false, transposeB: true, m: time, n: time, k: hd,
                alpha: 1, a: dc, lda: channels, b: v, ldb: qkvStride, beta: 0, c: dp, ldc: time)
            dropout?.apply(to: dp, pair: pair, headCount: headCount, time: time)
        }
        Parallel.forEachRange(count: batch * headCount * time, cost: 4 * time) { rows in
            for row in rows {
                softmaxBackwardRow(scratch + row * time, probabilities: probabilities + row * time, query: row % time)
            }
        }
        for pair in 0..<(batch * headCount) {
            let (q, k, _) = headSlices(qkv, pair: pair)
            let (dq, dk, _) = headSlices(dqkv, pair: pair)
            let dscores = scratch + pair * time * time
            // scores = scale·q·kᵀ: dq = scale·dscores·k ; dk = scale·dscoresᵀ·q
            Scalar.gemm(
                transposeA: false, transposeB: false, m: time, n: hd, k: time,
                alpha: scale, a: dscores, lda: time, b: k, ldb: qkvStride, beta: 0, c: dq, ldc: qkvStride)
            Scalar.gemm(
                transposeA: true, transposeB: false, m: time, n: hd, k: time,
                alpha: scale, a: dscores, lda: time, b: q, ldb: qkvStride, beta: 0, c: dk, ldc: qkvStride)
        }
    }

    /// The probabilities that multiply v: `probabilities` itself, or under dropout their masked copy.
    private func dropProbabilities(
        _ probabilities: UnsafeMutablePointer<Scalar>, into dropped: UnsafeMutablePointer<Scalar>?
    ) -> UnsafePointer<Scalar> {
        guard let dropout else { return UnsafePointer(probabilities) }
        guard let dropped else { preconditionFailure("attention dropout needs a buffer for the dropped probabilities") }
        dropped.update(from: probabilities, count: batch * headCount * time * time)
        for pair in 0..<(batch * headCount) {
            dropout.apply(to: dropped + pair * time * time, pair: pair, headCount: headCount, time: time)
        }
        return UnsafePointer(dropped)
    }

    /// q, k and v of one (batch, head) pair inside a [B,T,3C] buffer; rows are qkvStride apart.
    @inline(__always)
    private func headSlices<P: Strideable>(_ base: P, pair: Int) -> (P, P, P) where P.Stride == Int {
        let b = pair / headCount, h = pair % headCount
        let q = base.advanced(by: b * time * qkvStride + h * 3 * headDimension)
        return (q, q.advanced(by: headDimension), q.advanced(by: 2 * headDimension))
    }

    @inline(__always)
    private func contextOffset(pair: Int) -> Int {
        (pair / headCount) * time * channels + (pair % headCount) * headDimension
    }

    /// In place over one row of scores: adds the ALiBi bias, masks keys after the query, softmaxes.
    private func softmaxCausalRow(_ row: UnsafeMutablePointer<Scalar>, query i: Int, slope: Scalar) {
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

    /// In place over one row of dp: dscores = p ⊙ (dp − Σ_j dp·p); masked entries become 0.
    private func softmaxBackwardRow(_ dRow: UnsafeMutablePointer<Scalar>, probabilities pRow: UnsafePointer<Scalar>, query i: Int) {
        var dot: Scalar = 0
        for j in 0...i { dot += dRow[j] * pRow[j] }
        for j in 0...i { dRow[j] = pRow[j] * (dRow[j] - dot) }
        if i + 1 < time { (dRow + i + 1).update(repeating: 0, count: time - i - 1) }
    }
}
