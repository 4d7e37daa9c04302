extension CUDAKernelSource {
    /// The causal ALiBi softmax between attention's two matrix products (CausalAttention.swift).
    static let attentionSoftmax = CUDAKernelSource(
        name: "attention_softmax.cu",
        code: #"""
        // Legend: B batch, NH heads, T time. scores[B,NH,T,T] hold q·kᵀ/√HD; row r is query i = r mod T
        // of head (r / T) mod NH. Each row gets one warp: block (32, 8), grid x = ⌈B·NH·T/8⌉; lanes walk
        // the row 32 apart, so any T (up to 2048 and beyond) works.

        __device__ __forceinline__ float cohort_attention_warp_sum(float value) {
            for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
            return value;
        }

        __device__ __forceinline__ float cohort_attention_warp_max(float value) {
            for (int offset = 16; offset > 0; offset /= 2) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
            return value;
        }

        // In place: p[j] = softmax_j≤i(score[j] + slope·(j − i)) for j ≤ i and 0 for j > i (ALiBi §3,
        // with the causal mask). The −slope·i term is constant per row, so this is BLOOM's slope·j bias.
        extern "C" __global__ void cohort_attention_softmax_forward(float* scores, const float* slopes, int rows, int time, int headCount) {
            int r = blockIdx.x * blockDim.y + threadIdx.y;
            if (r >= rows) return;
            int i = r % time;
            float slope = slopes[(r / time) % headCount];
            float* row = scores + (long long)r * time;
            float maximum = -3.4028234663852886e38f;
            for (int j = threadIdx.x; j <= i; j += 32) {
                float biased = row[j] + slope * (float)(j - i);
                row[j] = biased;
                maximum = fmaxf(maximum, biased);
            }
            maximum = cohort_attention_warp_max(maximum);
            float sum = 0.0f;
            for (int j = threadIdx.x; j <= i; j += 32) {
                float e = expf(row[j] - maximum);
                row[j] = e;
                sum += e;
            }
            float inverse = 1.0f / cohort_attention_warp_sum(sum);
            for (int j = threadIdx.x; j < time; j += 32) row[j] = j <= i ? row[j] * inverse : 0.0f;
        }

        // In place over dp: dscores[j] = p[j]·(dp[j] − Σ_k≤i dp[k]·p[k]) for j ≤ i, 0 above the diagonal.
        extern "C" __global__ void cohort_attention_softmax_backward(float* dp, const float* p, int rows, int time) {
            int r = blockIdx.x * blockDim.y + threadIdx.y;
            if (r >= rows) return;
            int i = r % time;
            float* dRow = dp + (long long)r * time;
            const float* pRow = p + (long long)r * time;
            float dot = 0.0f;
            for (int j = threadIdx.x; j <= i; j += 32) dot += dRow[j] * pRow[j];
            dot = cohort_attention_warp_sum(dot);
            for (int j = threadIdx.x; j < time; j += 32) dRow[j] = j <= i ? pRow[j] * (dRow[j] - dot) : 0.0f;
        }
        """#,
        entryPoints: ["cohort_attention_softmax_forward", "cohort_attention_softmax_backward"])
}
