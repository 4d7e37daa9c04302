import Foundation
import Testing
@testable import CUDABackend

/// Every kernel unit through the real NVRTC, so that a kernel that does not compile fails CI
/// on machines without a GPU.
@Suite(.serialized)
struct KernelCompilerTests {
    @Test func everyUnitCompilesToPTXWithItsEntryPoints() throws {
        let compiler = try NVRTCEnvironment.requireCompiler()
        for unit in CUDAKernelSource.all {
            let image = try compiler.compile(unit, target: "compute_80")
            #expect(image.kind == .ptx)
            let ptx = String(decoding: image.bytes.prefix { $0 != 0 }, as: UTF8.self)
            for entry in unit.entryPoints {
                #expect(ptx.contains(".entry \(entry)("), "\(unit.name)'s PTX lacks \(entry)")
            }
        }
    }

    @Test func everyUnitCompilesToMachineCodeForHopperAndAmpere() throws {
        let compiler = try NVRTCEnvironment.requireCompiler()
        for capability in [ComputeCapability(major: 8, minor: 0), ComputeCapability(major: 9, minor: 0)] {
            let target = try compiler.target(for: capability)
            #expect(target == "sm_\(capability.major)\(capability.minor)")
            for unit in CUDAKernelSource.all {
                let image = try compiler.compile(unit, target: target)
                #expect(image.kind == .cubin)
                // An ELF image: what cuModuleLoadData takes as machine code.
                #expect(Array(image.bytes.prefix(4)) == [0x7F, 0x45, 0x4C, 0x46])
            }
        }
    }

    @Test func aDeviceNewerThanNVRTCGetsPTXOfTheNewestArchitectureItKnows() throws {
        let compiler = try NVRTCEnvironment.requireCompiler()
        let newest = try #require(compiler.supportedArchitectures.last)
        #expect(try compiler.target(for: ComputeCapability(major: 99, minor: 0)) == "compute_\(newest)")
        #expect(throws: CUDAUnavailable.self) { try compiler.target(for: ComputeCapability(major: 1, minor: 0)) }
    }

    @Test func aCompileErrorNamesTheUnitAndLine() throws {
        let compiler = try NVRTCEnvironment.requireCompiler()
        let broken = CUDAKernelSource(
            name: "broken.cu",
            code: "extern \"C\" __global__ void cohort_broken(float* out) {\n    out[0] = undeclared;\n}\n",
            entryPoints: ["cohort_broken"])
        let error = try #require(throws: CUDAUnavailable.self) { try compiler.compile(broken, target: "compute_80") }
        #expect(error.description.contains("broken.cu"))
        #expect(error.description.contains("undeclared"))
        #expect(!error.description.contains("\n"))
    }
}
