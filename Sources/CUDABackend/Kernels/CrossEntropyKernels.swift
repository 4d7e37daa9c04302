extension CUDAKernelSource {
    /// Softmax cross-entropy fused with its gradient (CrossEntropy.swift), one block per row.
    static let crossEntropy = CUDAKernelSource(
        name: "cross_entropy.cu",
        code: #"""
        // Legend: N rows, V vocabulary. A target below zero marks a row that is not scored. Each row gets
        // one block: grid x = N, block x = 256 (8 warps; the per-warp arrays below hold up to 32).

        __device__ __forceinline__ float cohort_cross_entropy_warp_sum(float value) {
            for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
            return value;
        }

        __device__ __forceinline__ float cohort_cross_entropy_warp_max(float value) {
            for (int offset = 16; offset > 0; offset /= 2) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
            return value;
        }

        // Every thread of the block returns the block's sum (or maximum): each warp reduces its lanes,
        // then every thread combines the warps' results in warp order. `perWarp` must not be reused
        // before a barrier.
        __device__ __forceinline__ float cohort_cross_entropy_block_sum(float value, float* perWarp) {
            value = cohort_cross_entropy_warp_sum(value);
            if (threadIdx.x % 32 == 0) perWarp[threadIdx.x / 32] = value;
            __syncthreads();
            float sum = 0.0f;
            for (int warp = 0; warp < (int)blockDim.x / 32; ++warp) sum += perWarp[warp];
            return sum;
        }

        __device__ __forceinline__ float cohort_cross_entropy_block_max(float value, float* perWarp) {
            value = cohort_cross_entropy_warp_max(value);
            if (threadIdx.x % 32 == 0) perWarp[threadIdx.x / 32] = value;
            __syncthreads();
            float maximum = perWarp[0];
            for (int warp = 1; warp < (int)blockDim.x / 32; ++warp) maximum = fmaxf(maximum, perWarp[warp]);
            return maximum;
        }

        // Per row: rowLosses[n] = log Σ exp(logits) − logits[target] (0 when not scored), and logits[n,:]
        // overwritten with dloss/dlogits = (softmax − onehot(target))·inverseScored (zeros when not
        // scored), ready for the LM head's backward. The host counts the scored rows for inverseScored
        // and sums rowLosses in row order.
        extern "C" __global__ void cohort_cross_entropy(float* logits, const int* targets, float* rowLosses, int rows, int vocabulary, float inverseScored) {
            __shared__ float warpMaxima[32];
            __shared__ float warpSums[32];
            int n = blockIdx.x;
            if (n >= rows) return;
            float* row = logits + (long long)n * vocabulary;
            int target = targets[n];
            if (target < 0) {
                for (int j = threadIdx.x; j < vocabulary; j += blockDim.x) row[j] = 0.0f;
                if (threadIdx.x == 0) rowLosses[n] = 0.0f;
                return;
            }
            // Read before any thread overwrites the row with probabilities.
            float targetLogit = row[target];
            float maximum = -3.4028234663852886e38f;
            for (int j = threadIdx.x; j < vocabulary; j += blockDim.x) maximum = fmaxf(maximum, row[j]);
            maximum = cohort_cross_entropy_block_max(maximum, warpMaxima);
            float sum = 0.0f;
            for (int j = threadIdx.x; j < vocabulary; j += blockDim.x) {
                float e = expf(row[j] - maximum);
                row[j] = e;
                sum += e;
            }
            sum = cohort_cross_entropy_block_sum(sum, warpSums);
            float scale = inverseScored / sum;
            for (int j = threadIdx.x; j < vocabulary; j += blockDim.x) {
                float gradient = row[j] * scale;
                row[j] = j == target ? gradient - inverseScored : gradient;
            }
            if (threadIdx.x == 0) rowLosses[n] = logf(sum) + maximum - targetLogit;
        }
        """#,
        entryPoints: ["cohort_cross_entropy"])
}
