/// `CausalAttention` on a GPU: the same fused QKV layout and ALiBi bias, the matrix products as
/// one strided batched GEMM per head (its B sequences are a fixed stride apart in qkv[B,T,3C]
/// and probabilities[B,NH,T,T]), the softmax as one kernel over every row.
///
/// Legend: B batch, T time, C channels, NH heads, HD = C/NH; per head h, q, k and v sit at
/// columns h·3·HD + {0, HD, 2·HD} of qkv.
struct CUDACausalAttention {
    let gpu: CUDAContext
    let batch: Int
    let time: Int
    let channels: Int
    let headCount: Int
    /// Device address of the NH slopes.
    let slopes: UInt64

    private var headDimension: Int { channels / headCount }
    private var qkvStride: Int { 3 * channels }
    private var scale: Float { 1 / Float(headDimension).squareRoot() }
    private var scoresPerPair: Int { time * time }

    /// probabilities[B,NH,T,T] (kept for backward); context[B,T,C] = softmax(scores)·v.
    func forward(context: UInt64, probabilities: UInt64, qkv: UInt64) throws(CUDAUnavailable) {
        let hd = headDimension, t = time
        for head in 0..<headCount {
            let (q, k, _) = slices(qkv, head: head)
            let scores = floats(probabilities, head * scoresPerPair)
            try gpu.gemm(transposeA: false, transposeB: true, m: t, n: t, k: hd, alpha: scale,
                         a: q, lda: qkvStride, b: k, ldb: qkvStride, beta: 0, c: scores, ldc: t,
                         batch: (batch, strideA: t * qkvStride, strideB: t * qkvStride, strideC: headCount * scoresPerPair))
        }
        try gpu.attentionSoftmaxForward(scores: probabilities, slopes: slopes, rows: batch * headCount * t,
                                        time: t, headCount: headCount)
        for head in 0..<headCount {
            let (_, _, v) = slices(qkv, head: head)
            try gpu.gemm(transposeA: false, transposeB: false, m: t, n: hd, k: t, alpha: 1,
                         a: floats(probabilities, head * scoresPerPair), lda: t, b: v, ldb: qkvStride,
                         beta: 0, c: floats(context, head * hd), ldc: channels,
                         batch: (batch, strideA: headCount * scoresPerPair, strideB: t * qkvStride, strideC: t * channels))
        }
    }

    /// Given dcontext[B,T,C], writes dqkv[B,T,3C]; `scratch` holds B·NH·T·T floats.
    func backward(qkvGradient dqkv: UInt64, contextGradient dcontext: UInt64, probabilities: UInt64, qkv: UInt64,
                  scratch: UInt64) throws(CUDAUnavailable) {
        let hd = headDimension, t = time
        let pairStride = headCount * scoresPerPair
        for head in 0..<headCount {
            let (_, _, v) = slices(qkv, head: head)
            let (_, _, dv) = slices(dqkv, head: head)
            let p = floats(probabilities, head * scoresPerPair), dp = floats(scratch, head * scoresPerPair)
            let dc = floats(dcontext, head * hd)
            // dv = pᵀ·dcontext ; dp = dcontext·vᵀ
            try gpu.gemm(transposeA: true, transposeB: false, m: t, n: hd, k: t, alpha: 1,
                         a: p, lda: t, b: dc, ldb: channels, beta: 0, c: dv, ldc: qkvStride,
                         batch: (batch, strideA: pairStride, strideB: t * channels, strideC: t * qkvStride))
            try gpu.gemm(transposeA: false, transposeB: true, m: t, n: t, k: hd, alpha: 1,
                         a: dc, lda: channels, b: v, ldb: qkvStride, beta: 0, c: dp, ldc: t,
                         batch: (batch, strideA: t * channels, strideB: t * qkvStride, strideC: pairStride))
        }
        try gpu.attentionSoftmaxBackward(dp: scratch, p: probabilities, rows: batch * headCount * t, time: t)
        for head in 0..<headCount {
            let (q, k, _) = slices(qkv, head: head)
            let (dq, dk, _) = slices(dqkv, head: head)
            let dscores = floats(scratch, head * scoresPerPair)
            // scores = scale·q·kᵀ: dq = scale·dscores·k ; dk = scale·dscoresᵀ·q
            try gpu.gemm(transposeA: false, transposeB: false, m: t, n: hd, k: t, alpha: scale,
                         a: dscores, lda: t, b: k, ldb: qkvStride, beta: 0, c: dq, ldc: qkvStride,
                         batch: (batch, strideA: pairStride, strideB: t * qkvStride, strideC: t * qkvStride))
            try gpu.gemm(transposeA: true, transposeB: false, m: t, n: hd, k: t, alpha: scale,
                         a: dscores, lda: t, b: q, ldb: qkvStride, beta: 0, c: dk, ldc: qkvStride,
                         batch: (batch, strideA: pairStride, strideB: t * qkvStride, strideC: t * qkvStride))
        }
    }

    /// Head `head`'s q, k and v in the first sequence of a [B,T,3C] buffer.
    private func slices(_ base: UInt64, head: Int) -> (UInt64, UInt64, UInt64) {
        let q = floats(base, head * 3 * headDimension)
        return (q, floats(q, headDimension), floats(q, 2 * headDimension))
    }

    private func floats(_ address: UInt64, _ offset: Int) -> UInt64 {
        address + UInt64(offset * MemoryLayout<Float>.stride)
    }
}
