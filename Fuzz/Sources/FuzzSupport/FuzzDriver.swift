import Foundation

/// A named input for a target's seed corpus.
public typealias FuzzSeed = (name: String, bytes: [UInt8])

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// The body of every target's `<Target>_main` (SwiftPM links executables with `main` aliased to
/// that name): with `FUZZ_WRITE_SEEDS=DIR` it writes the target's seed corpus to DIR, otherwise
/// it hands the command line to libFuzzer with `test` as the input callback.
public func runFuzzer(
    argc: CInt, argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    test: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt, seeds: () -> [FuzzSeed] = { [] }
) -> CInt {
    if let directory = getenv("FUZZ_WRITE_SEEDS") {
        writeSeeds(seeds(), to: String(cString: directory))
        return 0
    }
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv, test)
}

/// Writes each seed, and copies of it cut short, as files named after it in `directory`.
private func writeSeeds(_ seeds: [FuzzSeed], to directory: String) {
    for seed in seeds {
        var files = [(seed.name, seed.bytes)]
        if seed.bytes.count > 2 {
            files.append((seed.name + "-truncated", Array(seed.bytes.prefix(seed.bytes.count - 1))))
            files.append((seed.name + "-half", Array(seed.bytes.prefix(seed.bytes.count / 2))))
        }
        for (name, bytes) in files {
            let written = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(bytes))
            precondition(written, "cannot write \(directory)/\(name)")
        }
    }
}
