/// The kernel units' entry points as typed calls on device addresses, each launched with the
/// shape `KernelLaunch` gives it. Arguments follow the kernels' own order; see their units.
///
/// Legend: N rows, C channels, V vocabulary, O columns, T time, NH heads.
extension CUDAContext {
    func embeddingForward(out: UInt64, tokens: UInt64, table: UInt64, rows: Int, channels: Int) throws(CUDAUnavailable) {
        try launch("cohort_embedding_forward", .embeddingForward(rows: rows, channels: channels),
                   [.buffer(out), .buffer(tokens), .buffer(table), .int(rows), .int(channels)])
    }

    func embeddingBackward(tableGradient: UInt64, tokens: UInt64, outGradient: UInt64, rows: Int, vocabulary: Int,
                           channels: Int) throws(CUDAUnavailable) {
        try launch("cohort_embedding_backward", .embeddingBackward(vocabulary: vocabulary),
                   [.buffer(tableGradient), .buffer(tokens), .buffer(outGradient), .int(rows), .int(vocabulary), .int(channels)])
    }

    func layerNormForward(out: UInt64, mean: UInt64, rstd: UInt64, x: UInt64, weight: UInt64, bias: UInt64,
                          rows: Int, channels: Int, epsilon: Float) throws(CUDAUnavailable) {
        try launch("cohort_layernorm_forward", .layerNormForward(rows: rows),
                   [.buffer(out), .buffer(mean), .buffer(rstd), .buffer(x), .buffer(weight), .buffer(bias),
                    .int(rows), .int(channels), .float(epsilon)])
    }

    /// dx += …; dw += …; db += … (LayerNorm.backward's accumulation). `terms` holds N·C floats of
    /// scratch for dout·x̂.
    func layerNormBackward(dx: UInt64, dw: UInt64, db: UInt64, dout: UInt64, x: UInt64, weight: UInt64, mean: UInt64,
                           rstd: UInt64, terms: UInt64, rows: Int, channels: Int) throws(CUDAUnavailable) {
        try launch("cohort_layernorm_backward_input", .layerNormBackwardInput(rows: rows),
                   [.buffer(dx), .buffer(dout), .buffer(x), .buffer(weight), .buffer(mean), .buffer(rstd),
                    .int(rows), .int(channels)])
        try launch("cohort_layernorm_weight_gradient_terms", .layerNormWeightGradientTerms(rows: rows, channels: channels),
                   [.buffer(terms), .buffer(dout), .buffer(x), .buffer(mean), .buffer(rstd), .int(rows), .int(channels)])
        try addColumnSums(into: dw, of: terms, rows: rows, columns: channels)
        try addColumnSums(into: db, of: dout, rows: rows, columns: channels)
    }

    /// y[N,O] = x[N,I]·W[O,I]ᵀ + b (or y += with `accumulate`), as Linear.forward.
    func linearForward(y: UInt64, x: UInt64, weight: UInt64, bias: UInt64, rows: Int, inputs: Int, outputs: Int,
                       accumulate: Bool = false) throws(CUDAUnavailable) {
        try launch("cohort_bias_broadcast", .biasBroadcast(rows: rows, columns: outputs),
                   [.buffer(y), .buffer(bias), .int(rows), .int(outputs), .int(accumulate ? 1 : 0)])
        try gemm(transposeA: false, transposeB: true, m: rows, n: outputs, k: inputs, alpha: 1,
                 a: x, lda: inputs, b: weight, ldb: inputs, beta: 1, c: y, ldc: outputs)
    }

    /// dW += dyᵀ·x and db += Σ dy unless the layer is frozen (nil); dx = dy·W, as Linear.backward.
    func linearBackward(dx: UInt64, dw: UInt64?, db: UInt64?, dy: UInt64, x: UInt64, weight: UInt64,
                        rows: Int, inputs: Int, outputs: Int) throws(CUDAUnavailable) {
        if let dw, let db {
            try gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: rows, alpha: 1,
                     a: dy, lda: outputs, b: x, ldb: inputs, beta: 1, c: dw, ldc: inputs)
            try addColumnSums(into: db, of: dy, rows: rows, columns: outputs)
        }
        try gemm(transposeA: false, transposeB: false, m: rows, n: inputs, k: outputs, alpha: 1,
                 a: dy, lda: outputs, b: weight, ldb: inputs, beta: 0, c: dx, ldc: inputs)
    }

    func geluForward(out: UInt64, x: UInt64, count: Int) throws(CUDAUnavailable) {
        try launch("cohort_gelu_forward", .geluForward(count: count), [.buffer(out), .buffer(x), .count(count)])
    }

    /// gradient *= gelu′(x), in place.
    func geluBackward(gradient: UInt64, x: UInt64, count: Int) throws(CUDAUnavailable) {
        try launch("cohort_gelu_backward", .geluBackward(count: count), [.buffer(gradient), .buffer(x), .count(count)])
    }

    func attentionSoftmaxForward(scores: UInt64, slopes: UInt64, rows: Int, time: Int, headCount: Int) throws(CUDAUnavailable) {
        try launch("cohort_attention_softmax_forward", .attentionSoftmaxForward(rows: rows),
                   [.buffer(scores), .buffer(slopes), .int(rows), .int(time), .int(headCount)])
    }

    func attentionSoftmaxBackward(dp: UInt64, p: UInt64, rows: Int, time: Int) throws(CUDAUnavailable) {
        try launch("cohort_attention_softmax_backward", .attentionSoftmaxBackward(rows: rows),
                   [.buffer(dp), .buffer(p), .int(rows), .int(time)])
    }

    func crossEntropy(logits: UInt64, targets: UInt64, rowLosses: UInt64, rows: Int, vocabulary: Int,
                      inverseScored: Float) throws(CUDAUnavailable) {
        try launch("cohort_cross_entropy", .crossEntropy(rows: rows),
                   [.buffer(logits), .buffer(targets), .buffer(rowLosses), .int(rows), .int(vocabulary), .float(inverseScored)])
    }

    func copy(to destination: UInt64, from source: UInt64, floats: Int) throws(CUDAUnavailable) {
        try makeCurrent()
        try driver.check(driver.copyOnDevice(destination, source, floats * MemoryLayout<Float>.stride), "cuMemcpyDtoD")
    }
}
