extension CUDAKernelSource {
    /// Token embeddings: the gather that starts the forward pass and its deterministic backward.
    static let embedding = CUDAKernelSource(
        name: "embedding.cu",
        code: #"""
        // Legend: N rows (B·T tokens), V vocabulary, C channels; table[V,C] holds one row per token id.

        // out[N,C] = table[tokens[n], :], for tokens the host has checked lie in [0, V).
        // Any launch shape (grid-stride over N·C elements).
        extern "C" __global__ void cohort_embedding_forward(float* out, const int* tokens, const float* table, int rows, int channels) {
            long long count = (long long)rows * channels;
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                long long row = i / channels;
                out[i] = table[(long long)tokens[row] * channels + i % channels];
            }
        }

        // tableGradient[V,C] += Σ over rows n with tokens[n] = v of outGradient[n,:], summed in row order
        // so that the result does not depend on the launch and equals the CPU loop bit for bit.
        // Launch: one block per vocabulary row (grid x = V), block x = 256. The block reads the tokens
        // 256 at a time into shared memory and skips the tiles that hold no occurrence of its row, so a
        // row costs N/256 tile reads plus the rows it owns.
        extern "C" __global__ void cohort_embedding_backward(float* tableGradient, const int* tokens, const float* outGradient, int rows, int vocabulary, int channels) {
            __shared__ int tile[256];
            __shared__ int tileHasRow;
            int v = blockIdx.x;
            if (v >= vocabulary) return;
            float* gradientRow = tableGradient + (long long)v * channels;
            for (int start = 0; start < rows; start += 256) {
                int length = rows - start < 256 ? rows - start : 256;
                if (threadIdx.x == 0) tileHasRow = 0;
                __syncthreads();
                for (int k = threadIdx.x; k < length; k += blockDim.x) {
                    tile[k] = tokens[start + k];
                    if (tile[k] == v) tileHasRow = 1;
                }
                __syncthreads();
                if (tileHasRow) {
                    for (int k = 0; k < length; ++k) {
                        if (tile[k] != v) continue;
                        const float* outRow = outGradient + (long long)(start + k) * channels;
                        for (int c = threadIdx.x; c < channels; c += blockDim.x) gradientRow[c] += outRow[c];
                    }
                }
                // The next tile overwrites `tile` and `tileHasRow` only after every thread has read them.
                __syncthreads();
            }
        }
        """#,
        entryPoints: ["cohort_embedding_forward", "cohort_embedding_backward"])
}
