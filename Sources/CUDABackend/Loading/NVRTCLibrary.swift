/// The few NVRTC entry points the kernel compiler calls, bound from the library at run time.
/// Status codes: 0 is NVRTC_SUCCESS.
struct NVRTCLibrary: @unchecked Sendable {
    typealias Program = OpaquePointer
    typealias Status = Int32

    let library: SharedLibrary
    let version: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Status
    let numberOfSupportedArchitectures: @convention(c) (UnsafeMutablePointer<Int32>) -> Status
    let supportedArchitectures: @convention(c) (UnsafeMutablePointer<Int32>) -> Status
    let createProgram: @convention(c) (
        UnsafeMutablePointer<Program?>, UnsafePointer<CChar>, UnsafePointer<CChar>, Int32,
        UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?
    ) -> Status
    let compileProgram: @convention(c) (Program, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Status
    let programLogSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Status
    let programLog: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Status
    let ptxSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Status
    let ptx: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Status
    let cubinSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Status
    let cubin: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Status
    let destroyProgram: @convention(c) (UnsafeMutablePointer<Program?>) -> Status
    let errorString: @convention(c) (Status) -> UnsafePointer<CChar>?

    init(search: CUDALibrarySearch = CUDALibrarySearch()) throws(CUDAUnavailable) {
        let library = try search.open(.nvrtc)
        self.library = library
        version = try library.function("nvrtcVersion")
        numberOfSupportedArchitectures = try library.function("nvrtcGetNumSupportedArchs")
        supportedArchitectures = try library.function("nvrtcGetSupportedArchs")
        createProgram = try library.function("nvrtcCreateProgram")
        compileProgram = try library.function("nvrtcCompileProgram")
        programLogSize = try library.function("nvrtcGetProgramLogSize")
        programLog = try library.function("nvrtcGetProgramLog")
        ptxSize = try library.function("nvrtcGetPTXSize")
        ptx = try library.function("nvrtcGetPTX")
        cubinSize = try library.function("nvrtcGetCUBINSize")
        cubin = try library.function("nvrtcGetCUBIN")
        destroyProgram = try library.function("nvrtcDestroyProgram")
        errorString = try library.function("nvrtcGetErrorString")
    }

    func describe(_ status: Status) -> String {
        errorString(status).map { String(cString: $0) } ?? "NVRTC error \(status)"
    }
}
