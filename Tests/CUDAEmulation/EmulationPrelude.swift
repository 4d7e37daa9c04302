extension EmulationSource {
    /// CUDA's device vocabulary in C++17, placed before the kernel units: the qualifiers, the
    /// thread coordinates, barriers and warp shuffles over cooperative fibers, and the launcher
    /// that runs a grid one block at a time and finds a kernel in the trailer's table.
    public static let prelude = #"""
        // CUDA's device vocabulary on the CPU: each block's threads run as cooperative fibers, one block
        // after another, so that barriers and warp shuffles really wait for the threads they name.
        #include <cmath>
        #include <cstring>
        #include <string>
        #include <utility>
        #include <vector>
        #include <ucontext.h>

        #define __global__
        #define __device__
        #define __forceinline__ inline __attribute__((always_inline))
        // A block's shared memory: a function-local static is one per kernel, and blocks never overlap.
        #define __shared__ static

        struct uint3 { unsigned x, y, z; };

        // Set by the scheduler before it resumes a fiber, so each thread reads its own coordinates.
        uint3 threadIdx, blockIdx, blockDim, gridDim;

        namespace cohort_emulation {

        const int warpLanes = 32;
        const size_t fiberStackBytes = 64 * 1024;

        struct Fiber {
            ucontext_t context;
            uint3 index;
            bool finished;
            // While non-null, the fiber waits for *waitCounter to move past waitValue.
            const unsigned* waitCounter;
            unsigned waitValue;
        };

        // One block in flight: its fibers, the scheduler they return to and their barriers' state.
        struct Block {
            void (*invoke)(void**) = nullptr;
            void** arguments = nullptr;
            std::vector<Fiber> fibers;
            std::vector<std::vector<char>> stacks;
            ucontext_t scheduler;
            int current = 0;
            int threadCount = 0;
            int blockArrivals = 0;
            unsigned blockGeneration = 0;
            std::vector<int> warpArrivals;
            std::vector<unsigned> warpGenerations;
            // Each lane's contribution to the shuffles in progress: two sets of slots, each [warps][32].
            std::vector<unsigned long long> laneValues;
        };

        Block block;
        std::string lastError;

        inline int linearThread() { return block.current; }

        inline int lanesInWarp(int warp) {
            int remaining = block.threadCount - warp * warpLanes;
            return remaining < warpLanes ? remaining : warpLanes;
        }

        // Parks the running fiber until `counter` moves past `value`, then resumes it.
        inline void waitFor(const unsigned* counter, unsigned value) {
            Fiber& fiber = block.fibers[block.current];
            fiber.waitCounter = counter;
            fiber.waitValue = value;
            swapcontext(&fiber.context, &block.scheduler);
        }

        // A barrier for `expected` threads: the last to arrive opens the next generation for the others.
        inline void arrive(int& arrivals, unsigned& generation, int expected) {
            unsigned entered = generation;
            if (++arrivals == expected) {
                arrivals = 0;
                ++generation;
                return;
            }
            waitFor(&generation, entered);
        }

        inline void warpBarrier() {
            int warp = linearThread() / warpLanes;
            arrive(block.warpArrivals[warp], block.warpGenerations[warp], lanesInWarp(warp));
        }

        // Every lane publishes its value, waits for its warp, and reads lane `source`'s (its own when that
        // lane does not exist). Shuffles alternate between two sets of slots: a lane can only write the
        // set again two shuffles later, after every lane has passed the barrier of the shuffle between,
        // and so after every lane has read.
        template <typename T>
        T exchange(T value, int source) {
            static_assert(sizeof(T) <= sizeof(unsigned long long), "shuffled values are at most 8 bytes");
            int self = linearThread();
            int warp = self / warpLanes;
            unsigned long long* slots = &block.laneValues[(block.warpGenerations[warp] % 2 * block.warpGenerations.size() + warp) * warpLanes];
            std::memcpy(&slots[self % warpLanes], &value, sizeof(T));
            warpBarrier();
            T result = value;
            if (source >= 0 && source < lanesInWarp(warp)) std::memcpy(&result, &slots[source], sizeof(T));
            return result;
        }

        inline void runFiber() {
            Fiber& fiber = block.fibers[block.current];
            block.invoke(block.arguments);
            fiber.finished = true;
        }

        inline bool runnable(const Fiber& fiber) {
            return !fiber.finished && (fiber.waitCounter == nullptr || *fiber.waitCounter != fiber.waitValue);
        }

        // Runs one block to completion; false when every unfinished fiber waits at a barrier.
        inline bool runBlock(uint3 blockIndex) {
            blockIdx = blockIndex;
            int count = block.threadCount;
            int warps = (count + warpLanes - 1) / warpLanes;
            block.blockArrivals = 0;
            block.warpArrivals.assign(warps, 0);
            block.warpGenerations.assign(warps, 0);
            block.laneValues.assign(2 * warps * warpLanes, 0);
            block.fibers.assign(count, Fiber());
            if ((int)block.stacks.size() < count) block.stacks.resize(count, std::vector<char>(fiberStackBytes));
            for (int t = 0; t < count; ++t) {
                Fiber& fiber = block.fibers[t];
                fiber.index = { t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y) };
                getcontext(&fiber.context);
                fiber.context.uc_stack.ss_sp = block.stacks[t].data();
                fiber.context.uc_stack.ss_size = fiberStackBytes;
                fiber.context.uc_link = &block.scheduler;
                makecontext(&fiber.context, runFiber, 0);
            }
            int finished = 0;
            while (finished < count) {
                bool progressed = false;
                for (int t = 0; t < count; ++t) {
                    Fiber& fiber = block.fibers[t];
                    if (!runnable(fiber)) continue;
                    fiber.waitCounter = nullptr;
                    block.current = t;
                    threadIdx = fiber.index;
                    swapcontext(&block.scheduler, &fiber.context);
                    if (fiber.finished) ++finished;
                    progressed = true;
                }
                if (!progressed) {
                    lastError = "deadlock in block (" + std::to_string(blockIndex.x) + "," + std::to_string(blockIndex.y) + ","
                        + std::to_string(blockIndex.z) + "): " + std::to_string(count - finished) + " of "
                        + std::to_string(count) + " threads wait at a barrier the others never reach";
                    return false;
                }
            }
            return true;
        }

        inline int launch(void (*invoke)(void**), uint3 grid, uint3 threads, void** arguments) {
            unsigned long long perBlock = (unsigned long long)threads.x * threads.y * threads.z;
            if (perBlock == 0 || perBlock > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
                lastError = "invalid launch shape: " + std::to_string(perBlock) + " threads per block";
                return 1;
            }
            gridDim = grid;
            blockDim = threads;
            block.invoke = invoke;
            block.arguments = arguments;
            block.threadCount = (int)perBlock;
            for (unsigned z = 0; z < grid.z; ++z)
                for (unsigned y = 0; y < grid.y; ++y)
                    for (unsigned x = 0; x < grid.x; ++x)
                        if (!runBlock({ x, y, z })) return 1;
            return 0;
        }

        // Calls `Kernel` with its arguments unpacked from cuLaunchKernel's array of pointers to values.
        template <typename Signature> struct Unpacker;
        template <typename... Parameters> struct Unpacker<void (*)(Parameters...)> {
            template <auto Kernel, size_t... I> static void call(void** arguments, std::index_sequence<I...>) {
                Kernel(*static_cast<Parameters*>(arguments[I])...);
            }
            template <auto Kernel> static void invoke(void** arguments) {
                call<Kernel>(arguments, std::index_sequence_for<Parameters...>{});
            }
        };

        template <auto Kernel> void invoke(void** arguments) {
            Unpacker<decltype(Kernel)>::template invoke<Kernel>(arguments);
        }

        struct Entry {
            const char* name;
            void (*invoke)(void**);
        };

        } // namespace cohort_emulation

        // The device's adds that are never fused with a multiply; here every operation already rounds
        // on its own (-ffp-contract=off).
        inline float __fadd_rn(float a, float b) { return a + b; }
        inline float __fsub_rn(float a, float b) { return a - b; }

        inline void __syncthreads() {
            using namespace cohort_emulation;
            arrive(block.blockArrivals, block.blockGeneration, block.threadCount);
        }

        template <typename T> T __shfl_xor_sync(unsigned, T value, int laneMask, int width = 32) {
            int lane = cohort_emulation::linearThread() % cohort_emulation::warpLanes;
            int source = lane ^ laneMask;
            // As on the device, a lane may read from its own or an earlier group of `width` lanes only.
            return cohort_emulation::exchange(value, source / width <= lane / width ? source : lane);
        }

        template <typename T> T __shfl_down_sync(unsigned, T value, unsigned delta, int width = 32) {
            int lane = cohort_emulation::linearThread() % cohort_emulation::warpLanes;
            int source = lane % width + (int)delta < width ? lane + (int)delta : lane;
            return cohort_emulation::exchange(value, source);
        }

        // The kernels by name, defined after the units by the generated trailer.
        namespace cohort_emulation {
        extern const Entry kernels[];
        extern const size_t kernelCount;
        } // namespace cohort_emulation

        // Launches `kernel` as cuLaunchKernel would: `arguments` points at each argument's value.
        // Returns 0, or nonzero with the reason in cohort_emulated_last_error().
        extern "C" int cohort_emulated_launch(const char* kernel, unsigned gridX, unsigned gridY, unsigned gridZ, unsigned blockX, unsigned blockY, unsigned blockZ, void** arguments) {
            using namespace cohort_emulation;
            for (size_t k = 0; k < kernelCount; ++k) {
                if (std::strcmp(kernels[k].name, kernel) == 0) return launch(kernels[k].invoke, { gridX, gridY, gridZ }, { blockX, blockY, blockZ }, arguments);
            }
            lastError = std::string("no kernel named ") + kernel;
            return 1;
        }

        extern "C" const char* cohort_emulated_last_error() { return cohort_emulation::lastError.c_str(); }
        """#
}
