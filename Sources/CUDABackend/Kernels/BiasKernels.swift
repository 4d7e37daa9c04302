extension CUDAKernelSource {
    /// The bias half of a linear layer (Linear.swift); cuBLAS does the matrix products and, as a
    /// matrix-vector product with ones, the bias gradient's column sums.
    static let bias = CUDAKernelSource(
        name: "bias.cu",
        code: #"""
        // Legend: N rows, O columns (a linear layer's outputs); b[O] is added to every row of y[N,O].

        // y[N,O] = b (or y += b when accumulate != 0), before a GEMM that adds x·Wᵀ with beta = 1.
        // Any launch shape (grid-stride over N·O elements).
        extern "C" __global__ void cohort_bias_broadcast(float* y, const float* b, int rows, int columns, int accumulate) {
            long long count = (long long)rows * columns;
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                float bias = b[i % columns];
                y[i] = accumulate ? y[i] + bias : bias;
            }
        }
        """#,
        entryPoints: ["cohort_bias_broadcast"])
}
