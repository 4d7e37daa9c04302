/// The CUDA driver API entry points Cohort calls, bound from libcuda at run time. Results are
/// CUresult codes: 0 is CUDA_SUCCESS. The `_v2` names are the 64-bit-size variants every
/// driver since CUDA 3.2 exports.
struct CUDADriverLibrary: @unchecked Sendable {
    typealias Status = Int32
    typealias Device = Int32

    let library: SharedLibrary
    let initialize: @convention(c) (UInt32) -> Status
    let driverVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Status
    let deviceCount: @convention(c) (UnsafeMutablePointer<Int32>) -> Status
    let device: @convention(c) (UnsafeMutablePointer<Device>, Int32) -> Status
    let deviceName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Device) -> Status
    let deviceTotalMemory: @convention(c) (UnsafeMutablePointer<Int>, Device) -> Status
    let deviceAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Device) -> Status
    let errorName: @convention(c) (Status, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Status
    let retainPrimaryContext: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Device) -> Status
    let releasePrimaryContext: @convention(c) (Device) -> Status
    let setCurrentContext: @convention(c) (OpaquePointer?) -> Status
    let synchronize: @convention(c) () -> Status
    let allocate: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Status
    let free: @convention(c) (UInt64) -> Status
    let pinHostMemory: @convention(c) (UnsafeMutableRawPointer, Int, UInt32) -> Status
    let unpinHostMemory: @convention(c) (UnsafeMutableRawPointer) -> Status
    let copyToDevice: @convention(c) (UInt64, UnsafeRawPointer, Int) -> Status
    let copyToHost: @convention(c) (UnsafeMutableRawPointer, UInt64, Int) -> Status
    let copyOnDevice: @convention(c) (UInt64, UInt64, Int) -> Status
    let fill32: @convention(c) (UInt64, UInt32, Int) -> Status
    let loadModule: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> Status
    let unloadModule: @convention(c) (OpaquePointer) -> Status
    let moduleFunction: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer, UnsafePointer<CChar>) -> Status
    let launchKernel: @convention(c) (
        OpaquePointer, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> Status

    /// cuDeviceGetAttribute's numbers for the attributes read.
    enum Attribute: Int32 {
        case clockRate = 13
        case multiprocessorCount = 16
        case computeCapabilityMajor = 75
        case computeCapabilityMinor = 76
    }

    init(search: CUDALibrarySearch = CUDALibrarySearch()) throws(CUDAUnavailable) {
        let library = try search.open(.driver)
        self.library = library
        initialize = try library.function("cuInit")
        driverVersion = try library.function("cuDriverGetVersion")
        deviceCount = try library.function("cuDeviceGetCount")
        device = try library.function("cuDeviceGet")
        deviceName = try library.function("cuDeviceGetName")
        deviceTotalMemory = try library.function("cuDeviceTotalMem_v2")
        deviceAttribute = try library.function("cuDeviceGetAttribute")
        errorName = try library.function("cuGetErrorName")
        retainPrimaryContext = try library.function("cuDevicePrimaryCtxRetain")
        releasePrimaryContext = try library.function("cuDevicePrimaryCtxRelease_v2")
        setCurrentContext = try library.function("cuCtxSetCurrent")
        synchronize = try library.function("cuCtxSynchronize")
        allocate = try library.function("cuMemAlloc_v2")
        free = try library.function("cuMemFree_v2")
        pinHostMemory = try library.function("cuMemHostRegister_v2")
        unpinHostMemory = try library.function("cuMemHostUnregister")
        copyToDevice = try library.function("cuMemcpyHtoD_v2")
        copyToHost = try library.function("cuMemcpyDtoH_v2")
        copyOnDevice = try library.function("cuMemcpyDtoD_v2")
        fill32 = try library.function("cuMemsetD32_v2")
        loadModule = try library.function("cuModuleLoadData")
        unloadModule = try library.function("cuModuleUnload")
        moduleFunction = try library.function("cuModuleGetFunction")
        launchKernel = try library.function("cuLaunchKernel")
    }

    /// Throws a one-line error for a failed call, naming it and the driver's error.
    func check(_ status: Status, _ call: String) throws(CUDAUnavailable) {
        guard status != 0 else { return }
        var name: UnsafePointer<CChar>?
        let text = errorName(status, &name) == 0 ? name.map { String(cString: $0) } : nil
        throw CUDAUnavailable("\(call) failed: \(text ?? "CUDA error \(status)")")
    }
}
