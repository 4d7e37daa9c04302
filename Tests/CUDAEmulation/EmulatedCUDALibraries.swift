import CUDABackend
import Foundation

/// Stand-ins for libcuda, libnvrtc and libcublas that run the CUDA trainer on the CPU, so that
/// the production host code (`CUDAContext`, `CUDATransformer`: library loading, device memory,
/// launches, the row-major-to-cuBLAS operand swap, strided batches) runs in CI, unchanged,
/// through the same dlopen'ed C entry points a GPU machine's libraries offer.
///
/// - libcuda.so.1 reports one device (compute capability 9.0, 1 GiB), allocates "device"
///   memory with malloc, filled with NaN bytes as a GPU's uninitialised memory is garbage, and
///   runs `cuLaunchKernel` through the kernel emulator's library (`EmulationSource`), which the
///   folder holds as libcohort-kernels.so.
/// - libnvrtc.so.12 accepts every unit (the real NVRTC compiles them in `KernelCompilerTests`)
///   and hands back an image naming the unit, which the stand-in driver's `cuModuleLoadData`
///   checks.
/// - libcublas.so.12 computes `cublasSgemm` and its strided batches with OpenBLAS, column-major
///   as cuBLAS is.
///
/// The libraries carry no soname, so that a later search for the real ones by soname does not
/// find them already loaded.
public enum EmulatedCUDALibraries {
    /// Under the repository's `.build`, where `COHORT_CUDA_LIBRARY_PATH` can point a `cohort` at it.
    public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/cuda-emulation")

    /// The folder with the stand-ins, built once per test process.
    public static let built = Result { () throws(EmulatorError) in try build() }

    private static func build() throws(EmulatorError) -> URL {
        guard let compiler = EmulationSource.compilerPath else { throw EmulatorError("clang++ is not on PATH") }
        try? FileManager.default.removeItem(at: folder)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try source.write(to: folder.appendingPathComponent("emulated_cuda.cpp"), atomically: true, encoding: .utf8)
            try EmulationSource.translationUnit(CUDAKernelSource.all)
                .write(to: folder.appendingPathComponent("kernels.cpp"), atomically: true, encoding: .utf8)
        } catch {
            throw EmulatorError("cannot write the emulated CUDA libraries' sources: \(error)")
        }
        let common = ["-std=c++17", "-O1", "-ffp-contract=off", "-shared", "-fPIC"]
        try run(compiler, common + ["-o", "libcohort-kernels.so", "kernels.cpp"], in: folder)
        try run(compiler, common + ["-DEMULATE_DRIVER", "-o", "libcuda.so.1", "emulated_cuda.cpp", "-ldl"], in: folder)
        try run(compiler, common + ["-DEMULATE_NVRTC", "-o", "libnvrtc.so.12", "emulated_cuda.cpp"], in: folder)
        try run(compiler, common + ["-DEMULATE_CUBLAS", "-o", "libcublas.so.12", "emulated_cuda.cpp", "-lopenblas"],
                               in: folder)
        return folder
    }

    /// Runs the compiler in `folder`; throws its output when it fails.
    private static func run(_ compiler: String, _ arguments: [String], in folder: URL) throws(EmulatorError) {
        let process = Process()
        let log = Pipe()
        process.executableURL = URL(fileURLWithPath: compiler)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.standardOutput = log
        process.standardError = log
        do { try process.run() } catch { throw EmulatorError("cannot run \(compiler): \(error)") }
        let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw EmulatorError("\(compiler) \(arguments.joined(separator: " ")) failed:\n\(output)")
        }
    }

    static let source = #"""
        // One file, built three times: as the CUDA driver, NVRTC and cuBLAS a GPU machine offers,
        // for the entry points Cohort calls. Status 0 is success in all three.
        #include <cstdint>
        #include <cstdio>
        #include <cstdlib>
        #include <cstring>
        #include <mutex>
        #include <string>
        #include <dlfcn.h>

        static const char* const imagePrefix = "cohort-emulated-unit:";

        #ifdef EMULATE_DRIVER
        typedef int (*Launch)(const char*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void**);
        typedef const char* (*LastError)();
        static Launch launchKernel = nullptr;
        static LastError lastError = nullptr;
        // The emulator keeps its scheduler in globals, and a process's threads may each drive a
        // context (as tests running side by side do): one launch at a time.
        static std::mutex launching;
        struct Function { std::string name; };

        extern "C" {
        int cuInit(unsigned) {
            // The kernel library sits beside this one.
            Dl_info self;
            if (!dladdr((void*)&cuInit, &self)) return 999;
            std::string path(self.dli_fname);
            path = path.substr(0, path.rfind('/') + 1) + "libcohort-kernels.so";
            void* kernels = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!kernels) { fprintf(stderr, "emulated driver: %s\n", dlerror()); return 999; }
            launchKernel = (Launch)dlsym(kernels, "cohort_emulated_launch");
            lastError = (LastError)dlsym(kernels, "cohort_emulated_last_error");
            return launchKernel && lastError ? 0 : 999;
        }
        int cuDriverGetVersion(int* version) { *version = 12080; return 0; }
        int cuDeviceGetCount(int* count) { *count = 1; return 0; }
        int cuDeviceGet(int* device, int ordinal) { if (ordinal != 0) return 101; *device = 0; return 0; }
        int cuDeviceGetName(char* name, int length, int) { snprintf(name, length, "Cohort emulated GPU"); return 0; }
        int cuDeviceTotalMem_v2(size_t* bytes, int) { *bytes = (size_t)1 << 30; return 0; }
        int cuDeviceGetAttribute(int* value, int attribute, int) {
            *value = attribute == 13 ? 1000000 : attribute == 16 ? 4 : attribute == 75 ? 9 : 0;
            return 0;
        }
        int cuGetErrorName(int status, const char** name) {
            switch (status) {
            case 1: *name = "CUDA_ERROR_INVALID_VALUE"; return 0;
            case 2: *name = "CUDA_ERROR_OUT_OF_MEMORY"; return 0;
            case 200: *name = "CUDA_ERROR_INVALID_IMAGE"; return 0;
            case 712: *name = "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED"; return 0;
            case 713: *name = "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED"; return 0;
            case 719: *name = "CUDA_ERROR_LAUNCH_FAILED"; return 0;
            default: *name = "CUDA_ERROR_UNKNOWN"; return 0;
            }
        }
        int cuDevicePrimaryCtxRetain(void** context, int) { *context = (void*)0x1; return 0; }
        int cuDevicePrimaryCtxRelease_v2(int) { return 0; }
        int cuCtxSetCurrent(void*) { return 0; }
        int cuCtxSynchronize() { return 0; }
        int cuMemAlloc_v2(uint64_t* address, size_t bytes) {
            void* memory = aligned_alloc(256, (bytes + 255) / 256 * 256);
            if (!memory) return 2;
            memset(memory, 0xFF, bytes);
            *address = (uint64_t)(uintptr_t)memory;
            return 0;
        }
        int cuMemFree_v2(uint64_t address) { free((void*)(uintptr_t)address); return 0; }
        // Host memory is always "pinned" here; a range registered twice is refused as CUDA refuses it.
        static void* registered[64];
        int cuMemHostRegister_v2(void* pointer, size_t, unsigned) {
            std::lock_guard<std::mutex> hold(launching);
            for (void*& slot : registered) if (slot == pointer) return 712;
            for (void*& slot : registered) if (!slot) { slot = pointer; return 0; }
            return 2;
        }
        int cuMemHostUnregister(void* pointer) {
            std::lock_guard<std::mutex> hold(launching);
            for (void*& slot : registered) if (slot == pointer) { slot = nullptr; return 0; }
            return 713;
        }
        int cuMemcpyHtoD_v2(uint64_t to, const void* from, size_t bytes) { memcpy((void*)(uintptr_t)to, from, bytes); return 0; }
        int cuMemcpyDtoH_v2(void* to, uint64_t from, size_t bytes) { memcpy(to, (const void*)(uintptr_t)from, bytes); return 0; }
        int cuMemcpyDtoD_v2(uint64_t to, uint64_t from, size_t bytes) {
            memmove((void*)(uintptr_t)to, (const void*)(uintptr_t)from, bytes);
            return 0;
        }
        int cuMemsetD32_v2(uint64_t to, unsigned value, size_t count) {
            unsigned* words = (unsigned*)(uintptr_t)to;
            for (size_t i = 0; i < count; ++i) words[i] = value;
            return 0;
        }
        int cuModuleLoadData(void** module, const void* image) {
            if (strncmp((const char*)image, imagePrefix, strlen(imagePrefix)) != 0) return 200;
            *module = (void*)0x2;
            return 0;
        }
        int cuModuleUnload(void*) { return 0; }
        int cuModuleGetFunction(void** function, void*, const char* name) {
            *function = new Function{ name };
            return 0;
        }
        int cuLaunchKernel(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                           unsigned, void*, void** parameters, void**) {
            const Function* f = (const Function*)function;
            std::lock_guard<std::mutex> hold(launching);
            if (launchKernel(f->name.c_str(), gx, gy, gz, bx, by, bz, parameters) != 0) {
                fprintf(stderr, "emulated launch of %s failed: %s\n", f->name.c_str(), lastError());
                return 719;
            }
            return 0;
        }
        }
        #endif

        #ifdef EMULATE_NVRTC
        struct Program { std::string name; std::string image; };

        extern "C" {
        int nvrtcVersion(int* major, int* minor) { *major = 12; *minor = 9; return 0; }
        int nvrtcGetNumSupportedArchs(int* count) { *count = 2; return 0; }
        int nvrtcGetSupportedArchs(int* architectures) { architectures[0] = 80; architectures[1] = 90; return 0; }
        int nvrtcCreateProgram(Program** program, const char*, const char* name, int, const char* const*, const char* const*) {
            *program = new Program{ name, std::string(imagePrefix) + name };
            return 0;
        }
        int nvrtcCompileProgram(Program*, int, const char* const*) { return 0; }
        int nvrtcGetProgramLogSize(Program*, size_t* size) { *size = 1; return 0; }
        int nvrtcGetProgramLog(Program*, char* log) { log[0] = 0; return 0; }
        int nvrtcGetPTXSize(Program* program, size_t* size) { *size = program->image.size() + 1; return 0; }
        int nvrtcGetPTX(Program* program, char* image) { memcpy(image, program->image.c_str(), program->image.size() + 1); return 0; }
        int nvrtcGetCUBINSize(Program* program, size_t* size) { return nvrtcGetPTXSize(program, size); }
        int nvrtcGetCUBIN(Program* program, char* image) { return nvrtcGetPTX(program, image); }
        int nvrtcDestroyProgram(Program** program) { delete *program; *program = nullptr; return 0; }
        const char* nvrtcGetErrorString(int) { return "NVRTC_ERROR"; }
        }
        #endif

        #ifdef EMULATE_CUBLAS
        extern "C" void cblas_sgemv(int order, int transpose, int m, int n, float alpha, const float* a, int lda,
                                    const float* x, int incx, float beta, float* y, int incy);
        extern "C" void cblas_sgemm(int order, int transposeA, int transposeB, int m, int n, int k, float alpha,
                                    const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
        static const int columnMajor = 102, noTranspose = 111, transpose = 112;

        extern "C" {
        int cublasCreate_v2(void** handle) { *handle = (void*)0x3; return 0; }
        int cublasDestroy_v2(void*) { return 0; }
        int cublasSetMathMode(void*, int) { return 0; }
        const char* cublasGetStatusName(int) { return "CUBLAS_STATUS_EMULATED_FAILURE"; }
        int cublasSgemv_v2(void*, int op, int m, int n, const float* alpha, const float* a, int lda, const float* x, int incx,
                           const float* beta, float* y, int incy) {
            cblas_sgemv(columnMajor, op ? transpose : noTranspose, m, n, *alpha, a, lda, x, incx, *beta, y, incy);
            return 0;
        }
        int cublasSgemm_v2(void*, int opA, int opB, int m, int n, int k, const float* alpha, const float* a, int lda,
                           const float* b, int ldb, const float* beta, float* c, int ldc) {
            cblas_sgemm(columnMajor, opA ? transpose : noTranspose, opB ? transpose : noTranspose, m, n, k, *alpha,
                        a, lda, b, ldb, *beta, c, ldc);
            return 0;
        }
        int cublasSgemmStridedBatched(void* handle, int opA, int opB, int m, int n, int k, const float* alpha,
                                      const float* a, int lda, long long strideA, const float* b, int ldb, long long strideB,
                                      const float* beta, float* c, int ldc, long long strideC, int count) {
            for (int i = 0; i < count; ++i) {
                cublasSgemm_v2(handle, opA, opB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta,
                               c + i * strideC, ldc);
            }
            return 0;
        }
        }
        #endif
        """#
}
