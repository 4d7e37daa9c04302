extension CUDAKernelSource {
    /// LayerNorm forward and backward (LayerNorm.swift on the CPU), one warp per row.
    static let layerNorm = CUDAKernelSource(
        name: "layernorm.cu",
        code: #"""
        // Legend: N rows, C channels. out = (x − mean)·rstd·w + b per row; mean and rstd are kept for
        // the backward pass. Per-row kernels give each row one warp: block (32, 8), grid x = ⌈N/8⌉,
        // lane threadIdx.x walks the row's channels 32 apart.

        __device__ __forceinline__ float cohort_warp_sum(float value) {
            for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
            return value;
        }

        // out[N,C], mean[N], rstd[N] from x[N,C], w[C], b[C]. The variance is taken around the mean in
        // a second pass over the row, as the CPU does, rather than from E[x²] − mean², which cancels.
        extern "C" __global__ void cohort_layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* w, const float* b, int rows, int channels, float epsilon) {
            int row = blockIdx.x * blockDim.y + threadIdx.y;
            if (row >= rows) return;
            const float* xRow = x + (long long)row * channels;
            float* outRow = out + (long long)row * channels;
            float inverseC = 1.0f / channels;
            float sum = 0.0f;
            for (int j = threadIdx.x; j < channels; j += 32) sum += xRow[j];
            float m = cohort_warp_sum(sum) * inverseC;
            float squares = 0.0f;
            for (int j = threadIdx.x; j < channels; j += 32) {
                float d = xRow[j] - m;
                squares += d * d;
            }
            float r = 1.0f / sqrtf(cohort_warp_sum(squares) * inverseC + epsilon);
            for (int j = threadIdx.x; j < channels; j += 32) outRow[j] = (xRow[j] - m) * r * w[j] + b[j];
            if (threadIdx.x == 0) {
                mean[row] = m;
                rstd[row] = r;
            }
        }

        // dx[N,C] += rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with x̂ = (x − mean)·rstd and dx̂ = dout·w:
        // the input gradient of out = x̂·w + b, accumulated like every backward pass.
        extern "C" __global__ void cohort_layernorm_backward_input(float* dx, const float* dout, const float* x, const float* w, const float* mean, const float* rstd, int rows, int channels) {
            int row = blockIdx.x * blockDim.y + threadIdx.y;
            if (row >= rows) return;
            long long offset = (long long)row * channels;
            const float* xRow = x + offset;
            const float* doutRow = dout + offset;
            float* dxRow = dx + offset;
            float m = mean[row], r = rstd[row];
            float inverseC = 1.0f / channels;
            float dxHatSum = 0.0f, dxHatXHatSum = 0.0f;
            for (int j = threadIdx.x; j < channels; j += 32) {
                float dxHat = doutRow[j] * w[j];
                dxHatSum += dxHat;
                dxHatXHatSum += dxHat * (xRow[j] - m) * r;
            }
            float meanDxHat = cohort_warp_sum(dxHatSum) * inverseC;
            float meanDxHatXHat = cohort_warp_sum(dxHatXHatSum) * inverseC;
            for (int j = threadIdx.x; j < channels; j += 32) {
                float xHat = (xRow[j] - m) * r;
                dxRow[j] += r * (doutRow[j] * w[j] - meanDxHat - xHat * meanDxHatXHat);
            }
        }

        // terms[N,C] = dout·x̂, whose column sums are dw's increment (the host adds them with a cuBLAS
        // matrix-vector product, as it adds dout's for db). The product is the CPU's, in its order.
        // Any launch shape (grid-stride over N·C elements).
        extern "C" __global__ void cohort_layernorm_weight_gradient_terms(float* terms, const float* dout, const float* x, const float* mean, const float* rstd, int rows, int channels) {
            long long count = (long long)rows * channels;
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                int row = (int)(i / channels);
                terms[i] = dout[i] * (x[i] - mean[row]) * rstd[row];
            }
        }
        """#,
        entryPoints: ["cohort_layernorm_forward", "cohort_layernorm_backward_input", "cohort_layernorm_weight_gradient_terms"])
}
