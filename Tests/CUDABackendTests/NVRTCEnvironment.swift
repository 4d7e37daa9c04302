import Foundation
import Testing
@testable import CUDABackend

/// NVRTC for the compile tests: the machine's own if it has one, else NVIDIA's
/// `nvidia-cuda-nvrtc-cu12` wheel (which needs no GPU) in a virtualenv under `.build/cuda-venv`
/// that the first test to need it creates. Where neither can be had, the tests are cancelled
/// with the reason, so a machine without the package index shows a skip, never a pass.
enum NVRTCEnvironment {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let virtualEnvironment = repositoryRoot.appendingPathComponent(".build/cuda-venv")
    static let package = "nvidia-cuda-nvrtc-cu12"

    /// The library search that finds the wheel: the virtualenv as the active one.
    static var search: CUDALibrarySearch {
        var search = CUDALibrarySearch()
        search.environment["VIRTUAL_ENV"] = virtualEnvironment.path
        return search
    }

    private static let compiler: Result<KernelCompiler, CUDAUnavailable> = prepare()

    /// The compiler; cancels the calling test when there is none.
    static func requireCompiler() throws -> KernelCompiler {
        switch compiler {
        case .success(let compiler): return compiler
        case .failure(let reason): try Test.cancel("NVRTC is unavailable, so no kernel was compiled: \(reason)")
        }
    }

    private static func prepare() -> Result<KernelCompiler, CUDAUnavailable> {
        if let compiler = try? KernelCompiler(search: search) { return .success(compiler) }
        let python = virtualEnvironment.appendingPathComponent("bin/python")
        if let failure = run("/usr/bin/env", ["python3", "-m", "venv", virtualEnvironment.path])
            ?? run(python.path, ["-m", "pip", "install", "--quiet", package]) {
            return .failure(CUDAUnavailable("installing \(package) failed: \(failure)"))
        }
        return Result { () throws(CUDAUnavailable) in try KernelCompiler(search: search) }
    }

    /// Runs a helper program to completion; returns the last line of its output when it fails.
    private static func run(_ executable: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do { try process.run() } catch { return "\(executable) did not start: \(error)" }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus != 0 else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n").last.map(String.init) ?? "exit status \(process.terminationStatus)"
    }
}
