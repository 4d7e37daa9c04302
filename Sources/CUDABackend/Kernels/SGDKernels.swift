extension CUDAKernelSource {
    /// SGDOptimizer.apply's steps on the flat arena, and the clip norm's deterministic sum.
    static let sgd = CUDAKernelSource(
        name: "sgd.cu",
        code: #"""
        // The optimizer's elementwise steps on the flat parameter arena, each with SGDOptimizer.apply's
        // arithmetic in its order, so that a GPU peer and a CPU peer given the same gradient agree bit
        // for bit. The adds are __fadd_rn/__fsub_rn because NVRTC otherwise fuses a multiply into them
        // (--fmad=true), which rounds once where the CPU rounds twice.

        // v = μ·v + g·gradientScale, then p −= rate·v (heavy ball) or p −= rate·(g·gradientScale + μ·v)
        // (Nesterov). Any launch shape (grid-stride over count elements).
        extern "C" __global__ void cohort_sgd_momentum(float* parameters, float* velocity, const float* gradients, long long count, float rate, float momentum, float gradientScale, int nesterov) {
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                float gradient = gradients[i] * gradientScale;
                float v = __fadd_rn(momentum * velocity[i], gradient);
                velocity[i] = v;
                parameters[i] = __fsub_rn(parameters[i], rate * (nesterov ? __fadd_rn(gradient, momentum * v) : v));
            }
        }

        // values[i] *= factor: decoupled weight decay, p ← (1 − rate·λ)·p, on the decaying tensors.
        // Any launch shape (grid-stride over count elements).
        extern "C" __global__ void cohort_scale(float* values, long long count, float factor) {
            long long stride = (long long)blockDim.x * gridDim.x;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) values[i] *= factor;
        }

        __device__ __forceinline__ double cohort_warp_sum_double(double value) {
            for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
            return value;
        }

        // partials[blockIdx.x] = Σ values[i]² in float64 over the elements the block's threads stride
        // through: the squared gradient norm for clipping, in parts the host sums in block order.
        // Launch: the fixed grid x = 256, block x = 256, whatever the count, so that every element falls
        // in the same part and is summed in the same order on every run.
        extern "C" __global__ void cohort_sum_squares_partials(double* partials, const float* values, long long count) {
            __shared__ double warpSums[32];
            long long stride = (long long)blockDim.x * gridDim.x;
            double sum = 0.0;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
                double v = values[i];
                sum += v * v;
            }
            sum = cohort_warp_sum_double(sum);
            if (threadIdx.x % 32 == 0) warpSums[threadIdx.x / 32] = sum;
            __syncthreads();
            if (threadIdx.x == 0) {
                double blockSum = 0.0;
                for (int warp = 0; warp < (int)blockDim.x / 32; ++warp) blockSum += warpSums[warp];
                partials[blockIdx.x] = blockSum;
            }
        }
        """#,
        entryPoints: ["cohort_sgd_momentum", "cohort_scale", "cohort_sum_squares_partials"])
}
