extension CUDAKernelSource {
    /// BLOOM's tanh GELU and its derivative (GELU.swift), elementwise.
    static let gelu = CUDAKernelSource(
        name: "gelu.cu",
        code: #"""
        // BLOOM's tanh form: gelu(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).

        __device__ __forceinline__ float cohort_gelu_tanh_argument(float x) {
            return 0.7978845608028654f * x * (1.0f + 0.044715f * x * x);
        }

        // out[i] = gelu(x[i]). Any launch shape (grid-stride over count elements).
        extern "C" __global__ void cohort_gelu_forward(float* out, const float* x, long long count) {
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                float v = x[i];
                out[i] = 0.5f * v * (1.0f + tanhf(cohort_gelu_tanh_argument(v)));
            }
        }

        // gradient[i] *= gelu′(x[i]) in place (gradient holds dout on entry), with
        // gelu′(x) = ½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²) and t the tanh above.
        // Any launch shape (grid-stride over count elements).
        extern "C" __global__ void cohort_gelu_backward(float* gradient, const float* x, long long count) {
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                float v = x[i];
                float t = tanhf(cohort_gelu_tanh_argument(v));
                float argumentDerivative = 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * v * v);
                gradient[i] *= 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * argumentDerivative;
            }
        }
        """#,
        entryPoints: ["cohort_gelu_forward", "cohort_gelu_backward"])
}
