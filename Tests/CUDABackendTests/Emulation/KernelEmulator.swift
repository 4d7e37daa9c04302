@testable import CUDABackend
import CUDAEmulation
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the CUDA kernel units on the CPU, so that their numerics are tested on machines (and CI)
/// without a GPU or a CUDA toolkit.
///
/// Design: the very source NVRTC compiles is compiled by the toolchain's clang++ as C++17, between
/// a prelude and a trailer.
/// - The prelude (EmulatorPrelude.swift) defines what CUDA C takes from the device: the
///   qualifiers (`__shared__` becomes a function-local `static`, which works because blocks run
///   one after another), `threadIdx`/`blockIdx`/`blockDim`/`gridDim`, `__syncthreads`, the warp
///   shuffles, and the launcher `cohort_emulated_launch`.
/// - Each thread of a block is a fiber (ucontext) with its own small stack. A scheduler resumes
///   the fibers in turn, setting `threadIdx` first; a fiber runs until it waits at a barrier or
///   finishes. `__syncthreads` waits for the block, a shuffle for the warp (every lane writes
///   its value to a slot, waits, reads its source lane's slot), so a kernel whose threads skip a
///   barrier or read shared memory too early misbehaves here as it would on a GPU. When every
///   unfinished fiber waits, the block has deadlocked and the launch fails with a message.
/// - Each unit sits in its own namespace, as if compiled alone. The trailer, generated from the
///   units' entry points, lists the kernels by name; a template unpacks cuLaunchKernel's array
///   of pointers to argument values into each kernel's parameter types.
/// The library is built once per test process (`-ffp-contract=off`, so float arithmetic is
/// rounded operation by operation as the CPU trainer's is) and launches are serialised.
final class KernelEmulator: @unchecked Sendable {
    /// Every kernel the CUDA trainer compiles, and the emulator's own probes.
    static let shared = Result { () throws(EmulatorError) in
        try KernelEmulator(units: CUDAKernelSource.all + [CUDAKernelSource.emulatorProbes])
    }

    private typealias LaunchFunction = @convention(c) (
        UnsafePointer<CChar>, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> Int32
    private typealias LastErrorFunction = @convention(c) () -> UnsafePointer<CChar>

    private let launchFunction: LaunchFunction
    private let lastError: LastErrorFunction
    /// The emulation keeps its scheduler in globals: one launch at a time.
    private let lock = NSLock()

    init(units: [CUDAKernelSource]) throws(EmulatorError) {
        guard let compiler = EmulationSource.compilerPath else { throw EmulatorError("clang++ is not on PATH") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-kernel-emulation-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        let library = try Self.compile(EmulationSource.translationUnit(units), with: compiler, in: directory)
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            throw EmulatorError("dlopen \(library): \(String(cString: dlerror()))")
        }
        // The loaded library stays mapped; a failed build keeps its directory for inspection.
        try? FileManager.default.removeItem(at: directory)
        guard let launch = dlsym(handle, "cohort_emulated_launch"), let error = dlsym(handle, "cohort_emulated_last_error")
        else { throw EmulatorError("the emulation library lacks its launcher") }
        launchFunction = unsafeBitCast(launch, to: LaunchFunction.self)
        lastError = unsafeBitCast(error, to: LastErrorFunction.self)
    }

    /// Runs `kernel` over `shape`'s grid with `arguments` in the kernel's parameter order.
    func launch(_ kernel: String, _ shape: KernelLaunch, _ arguments: any EmulatedArgument...) throws(EmulatorError) {
        // One 8-byte slot per argument value, as cuLaunchKernel's `kernelParams` points at them.
        let slots = UnsafeMutableRawPointer.allocate(byteCount: 8 * max(arguments.count, 1), alignment: 8)
        defer { slots.deallocate() }
        var pointers = arguments.indices.map { index -> UnsafeMutableRawPointer? in
            let slot = slots + 8 * index
            arguments[index].store(at: slot)
            return slot
        }
        let failure: String? = lock.withLock {
            let status = launchFunction(
                kernel, shape.grid.x, shape.grid.y, shape.grid.z, shape.block.x, shape.block.y, shape.block.z, &pointers)
            return status == 0 ? nil : String(cString: lastError())
        }
        if let failure { throw EmulatorError("\(kernel): \(failure)") }
    }

    /// Writes `source` to `directory` and builds it into a shared library there.
    private static func compile(_ source: String, with compiler: String, in directory: URL) throws(EmulatorError) -> String {
        let sourcePath = directory.appendingPathComponent("kernels.cpp").path
        let libraryPath = directory.appendingPathComponent("libkernels.so").path
        let process = Process()
        let log = Pipe()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: compiler)
            process.arguments = [
                "-std=c++17", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", libraryPath, sourcePath,
            ]
            process.standardError = log
            process.standardOutput = log
            try process.run()
        } catch {
            throw EmulatorError("cannot run \(compiler): \(error)")
        }
        let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw EmulatorError("clang++ failed on \(sourcePath):\n\(output)")
        }
        return libraryPath
    }
}
