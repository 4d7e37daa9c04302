/// One translation unit of the CUDA trainer's kernels, as CUDA C source that NVRTC compiles at
/// run time for the device at hand (no CUDA toolkit at build time).
///
/// Conventions every unit follows, so that the host code, NVRTC and the CPU emulation used by
/// the tests (Tests/CUDABackendTests/Emulation) read them alike:
/// - entry points are `extern "C" __global__` with the `cohort_` prefix, so their names are not
///   mangled and the host finds them by name;
/// - float32 data, int32 tokens and targets, `int` sizes and `long long` element counts;
/// - no headers: the unit includes nothing, since NVRTC has no system headers to offer;
/// - each entry point's comment states the launch shape it expects.
public struct CUDAKernelSource: Sendable {
    /// The unit's name, which NVRTC reports errors under.
    public let name: String
    /// The CUDA C code.
    public let code: String
    /// The `extern "C" __global__` functions the unit defines.
    public let entryPoints: [String]

    public init(name: String, code: String, entryPoints: [String]) {
        self.name = name
        self.code = code
        self.entryPoints = entryPoints
    }
}

extension CUDAKernelSource {
    /// Every unit the CUDA trainer compiles.
    public static let all: [CUDAKernelSource] = [
        elementwise, embedding, layerNorm, bias, gelu, attentionSoftmax, crossEntropy, sgd,
    ]
}
