@testable import CUDABackend
import CUDAEmulation
import Testing

extension CUDAKernelSource {
    /// Kernels that exercise the emulator itself, so that a broken barrier or shuffle fails here
    /// instead of letting the kernel tests pass vacuously.
    static let emulatorProbes = CUDAKernelSource(
        name: "emulator_probes.cu",
        code: #"""
        // Per thread of block (32, 4): its warp's sum of thread ids by an xor butterfly and by
        // shuffling down, and the id of the block's mirror thread, read from shared memory after
        // a barrier (without a real barrier the first threads would read before the last write).
        extern "C" __global__ void cohort_probe_exchange(int* xorSums, int* downSums, int* mirrored) {
            __shared__ int ids[1024];
            int threads = blockDim.x * blockDim.y;
            int t = threadIdx.y * blockDim.x + threadIdx.x;
            int id = blockIdx.x * threads + t;
            int xorSum = id, downSum = id;
            for (int offset = 16; offset > 0; offset /= 2) {
                xorSum += __shfl_xor_sync(0xffffffffu, xorSum, offset);
                downSum += __shfl_down_sync(0xffffffffu, downSum, offset);
            }
            ids[t] = id;
            __syncthreads();
            xorSums[id] = xorSum;
            downSums[id] = downSum;
            mirrored[id] = ids[threads - 1 - t];
        }

        // Thread 0 leaves before the barrier that the others wait at.
        extern "C" __global__ void cohort_probe_deadlock(int* out) {
            if (threadIdx.x == 0) return;
            __syncthreads();
            out[threadIdx.x] = 1;
        }
        """#,
        entryPoints: ["cohort_probe_exchange", "cohort_probe_deadlock"])
}

@Suite(.enabled(if: EmulationSource.compilerPath != nil, "clang++ is not on PATH: the CUDA kernels cannot be emulated"))
struct EmulatorSelfTests {
    @Test func shufflesExchangeWithinWarpsAndBarriersWaitForTheBlock() throws {
        let emulator = try KernelEmulator.shared.get()
        let blocks = 3, warpsPerBlock = 4, threads = blocks * warpsPerBlock * 32
        let xorSums = EmulatedBuffer<Int32>(repeating: -1, count: threads)
        let downSums = EmulatedBuffer<Int32>(repeating: -1, count: threads)
        let mirrored = EmulatedBuffer<Int32>(repeating: -1, count: threads)
        let shape = KernelLaunch(grid: .init(x: blocks), block: .init(x: 32, y: warpsPerBlock))
        try emulator.launch("cohort_probe_exchange", shape, xorSums, downSums, mirrored)
        let xor = xorSums.array, down = downSums.array, mirror = mirrored.array
        let wrong = (0..<threads).filter { id in
            let warpStart = id / 32 * 32, blockStart = id / 128 * 128
            let warpSum = Int32((warpStart..<(warpStart + 32)).reduce(0, +))
            return xor[id] != warpSum || (id % 32 == 0 && down[id] != warpSum)
                || mirror[id] != Int32(blockStart + 127 - (id - blockStart))
        }
        #expect(wrong.isEmpty, "threads \(wrong.prefix(8)) of \(wrong.count) got a wrong exchange")
    }

    @Test func aBarrierSomeThreadsNeverReachFailsTheLaunch() throws {
        let emulator = try KernelEmulator.shared.get()
        let out = EmulatedBuffer<Int32>(repeating: 0, count: 64)
        let error = #expect(throws: EmulatorError.self) {
            try emulator.launch("cohort_probe_deadlock", KernelLaunch(grid: .init(x: 1), block: .init(x: 64)), out)
        }
        #expect(error?.description.contains("63 of 64 threads wait at a barrier") == true, "\(String(describing: error))")
    }

    @Test func anUnknownKernelFailsTheLaunch() throws {
        let emulator = try KernelEmulator.shared.get()
        let error = #expect(throws: EmulatorError.self) {
            try emulator.launch("cohort_missing", KernelLaunch(grid: .init(x: 1), block: .init(x: 32)))
        }
        #expect(error?.description.contains("no kernel named cohort_missing") == true, "\(String(describing: error))")
    }
}
