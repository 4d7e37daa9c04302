import Testing
@testable import CUDABackend

/// What the host code and NVRTC rely on in every kernel unit, checked without a compiler.
struct KernelSourceTests {
    @Test func everyEntryPointIsDefinedUnmangledInItsUnit() {
        for unit in CUDAKernelSource.all {
            for entry in unit.entryPoints {
                #expect(unit.code.contains("extern \"C\" __global__ void \(entry)("),
                        "\(unit.name) does not define \(entry) as extern \"C\" __global__")
            }
        }
    }

    @Test func entryPointsAreUniqueAndPrefixed() {
        let names = CUDAKernelSource.all.flatMap(\.entryPoints)
        #expect(Set(names).count == names.count)
        #expect(names.allSatisfy { $0.hasPrefix("cohort_") })
        let units = CUDAKernelSource.all.map(\.name)
        #expect(Set(units).count == units.count)
    }

    @Test func unitsIncludeNoHeaders() {
        for unit in CUDAKernelSource.all {
            #expect(!unit.code.contains("#include"), "\(unit.name) includes a header NVRTC cannot offer")
        }
    }
}
