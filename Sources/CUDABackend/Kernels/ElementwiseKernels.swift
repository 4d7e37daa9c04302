extension CUDAKernelSource {
    /// Residual additions: one thread per element, any launch shape (grid-stride loops).
    static let elementwise = CUDAKernelSource(
        name: "elementwise.cu",
        code: #"""
        // out[i] = a[i] + b[i]
        extern "C" __global__ void cohort_add(float* out, const float* a, const float* b, long long count) {
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                out[i] = a[i] + b[i];
            }
        }

        // out[i] += a[i]
        extern "C" __global__ void cohort_accumulate(float* out, const float* a, long long count) {
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                out[i] += a[i];
            }
        }
        """#,
        entryPoints: ["cohort_add", "cohort_accumulate"])
}
