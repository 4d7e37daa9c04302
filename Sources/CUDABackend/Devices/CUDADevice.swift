/// One GPU the CUDA driver reports.
public struct CUDADevice: Sendable, Equatable {
    public let index: Int
    public let name: String
    public let computeCapability: ComputeCapability
    public let memoryBytes: Int
    public let multiprocessors: Int
    /// The multiprocessors' peak clock, in kHz.
    public let clockKilohertz: Int

    /// The device's peak FLOP/s for the matrix products' mode, from its clock, multiprocessors
    /// and the per-multiprocessor rate of its architecture (NVIDIA's whitepapers: FP32 lanes
    /// × 2, and dense TF32 tensor-core operations); nil for architectures not listed.
    public func peakFlops(_ math: CUDAContext.MatrixMath) -> Double? {
        let perMultiprocessorPerClock: Double
        switch (math, computeCapability.major, computeCapability.minor) {
        case (.float32, 8, 0), (.float32, 7, _): perMultiprocessorPerClock = 128
        case (.float32, 8, _), (.float32, 9, 0), (.float32, 10, _), (.float32, 12, _): perMultiprocessorPerClock = 256
        case (.tensorFloat32, 8, 0): perMultiprocessorPerClock = 1024
        case (.tensorFloat32, 8, _): perMultiprocessorPerClock = 512
        case (.tensorFloat32, 9, 0): perMultiprocessorPerClock = 2048
        default: return nil
        }
        return perMultiprocessorPerClock * Double(multiprocessors) * Double(clockKilohertz) * 1e3
    }
}

/// The GPUs this machine offers, or why it offers none. Reading them loads the driver and
/// initialises it; nothing is allocated on a device.
public struct CUDADeviceList: Sendable {
    /// The driver's CUDA version, as in "12.8".
    public let driverVersion: String
    public let devices: [CUDADevice]

    /// Reads the devices. Throws `CUDAUnavailable` without a driver or when it fails to start;
    /// a working driver with no GPU gives an empty list.
    public static func read() throws(CUDAUnavailable) -> CUDADeviceList {
        try read(search: CUDALibrarySearch())
    }

    static func read(search: CUDALibrarySearch) throws(CUDAUnavailable) -> CUDADeviceList {
        let driver = try CUDADriverLibrary(search: search)
        let started = driver.initialize(0)
        // CUDA_ERROR_NO_DEVICE: a driver is installed but no GPU is visible (or none is passed through).
        if started == 100 { return CUDADeviceList(driverVersion: version(driver), devices: []) }
        try driver.check(started, "cuInit")
        var count: Int32 = 0
        try driver.check(driver.deviceCount(&count), "cuDeviceGetCount")
        var devices: [CUDADevice] = []
        for index in 0..<count {
            var handle: CUDADriverLibrary.Device = 0
            try driver.check(driver.device(&handle, index), "cuDeviceGet")
            devices.append(try describe(handle, index: Int(index), driver: driver))
        }
        return CUDADeviceList(driverVersion: version(driver), devices: devices)
    }

    private static func describe(
        _ device: CUDADriverLibrary.Device, index: Int, driver: CUDADriverLibrary
    ) throws(CUDAUnavailable) -> CUDADevice {
        var characters = [CChar](repeating: 0, count: 256)
        try driver.check(driver.deviceName(&characters, Int32(characters.count), device), "cuDeviceGetName")
        var memory = 0
        try driver.check(driver.deviceTotalMemory(&memory, device), "cuDeviceTotalMem")
        func attribute(_ attribute: CUDADriverLibrary.Attribute) throws(CUDAUnavailable) -> Int {
            var value: Int32 = 0
            try driver.check(driver.deviceAttribute(&value, attribute.rawValue, device), "cuDeviceGetAttribute")
            return Int(value)
        }
        let name = String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return CUDADevice(
            index: index, name: name,
            computeCapability: ComputeCapability(
                major: try attribute(.computeCapabilityMajor), minor: try attribute(.computeCapabilityMinor)),
            memoryBytes: memory, multiprocessors: try attribute(.multiprocessorCount),
            clockKilohertz: try attribute(.clockRate))
    }

    private static func version(_ driver: CUDADriverLibrary) -> String {
        var version: Int32 = 0
        guard driver.driverVersion(&version) == 0 else { return "unknown" }
        return "\(version / 1000).\(version % 1000 / 10)"
    }
}
