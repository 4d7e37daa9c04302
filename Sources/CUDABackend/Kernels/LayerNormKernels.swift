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

        // dw[C] += Σ_rows dout·x̂ and db[C] += Σ_rows dout, one thread per channel summing the rows in
        // order: deterministic, and equal to the CPU's loop (__fadd_rn keeps NVRTC from fusing the
        // product into the sum, which the CPU rounds separately). Launch: grid x = ⌈C/32⌉,
        // block x = 32: a warp per block spreads the few threads over every multiprocessor.
        extern "C" __global__ void cohort_layernorm_backward_parameters(float* dw, float* db, const float* dout, const float* x, const float* mean, const float* rstd, int rows, int channels) {
            int j = blockIdx.x * blockDim.x + threadIdx.x;
            if (j >= channels) return;
            float weightSum = dw[j], biasSum = db[j];
            for (int row = 0; row < rows; ++row) {
                long long index = (long long)row * channels + j;
                weightSum = __fadd_rn(weightSum, dout[index] * (x[index] - mean[row]) * rstd[row]);
                biasSum += dout[index];
            }
            dw[j] = weightSum;
            db[j] = biasSum;
        }
        """#,
        entryPoints: ["cohort_layernorm_forward", "cohort_layernorm_backward_input", "cohort_layernorm_backward_parameters"])
}
