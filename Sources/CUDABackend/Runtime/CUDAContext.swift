import Dispatch

/// One GPU made ready for training: its primary context, every kernel unit compiled for it and
/// loaded, and a cuBLAS handle. Calls may come from any thread: each makes the context current
/// on the calling thread first (CUDA contexts are per thread).
public final class CUDAContext: @unchecked Sendable {
    public let device: CUDADevice
    /// What the kernels were compiled for: `sm_XY` machine code or `compute_XY` PTX.
    public let kernelTarget: String
    public let mathMode: MatrixMath
    let driver: CUDADriverLibrary
    let blas: CUBLASLibrary
    private let deviceHandle: CUDADriverLibrary.Device
    private let context: OpaquePointer
    private let blasHandle: CUBLASLibrary.Handle
    private var modules: [OpaquePointer] = []
    /// Ones for column sums as matrix-vector products, as many as the longest sum so far.
    private var ones: DeviceBuffer<Float>?
    private var functions: [String: OpaquePointer] = [:]

    /// How matrix products run: plain float32, or TF32 tensor cores (float32 data and
    /// accumulation, 10-bit mantissa products).
    public enum MatrixMath: String, Sendable {
        case float32
        case tensorFloat32 = "tf32"
    }

    public convenience init(deviceIndex: Int = 0, mathMode: MatrixMath = .float32) throws(CUDAUnavailable) {
        try self.init(deviceIndex: deviceIndex, mathMode: mathMode, search: CUDALibrarySearch())
    }

    init(deviceIndex: Int, mathMode: MatrixMath, search: CUDALibrarySearch) throws(CUDAUnavailable) {
        let list = try CUDADeviceList.read(search: search)
        guard !list.devices.isEmpty else {
            throw CUDAUnavailable("the CUDA driver \(list.driverVersion) sees no GPU")
        }
        guard list.devices.indices.contains(deviceIndex) else {
            throw CUDAUnavailable("there is no GPU \(deviceIndex): the driver sees \(list.devices.count)")
        }
        device = list.devices[deviceIndex]
        self.mathMode = mathMode
        driver = try CUDADriverLibrary(search: search)
        var handle: CUDADriverLibrary.Device = 0
        try driver.check(driver.device(&handle, Int32(deviceIndex)), "cuDeviceGet")
        deviceHandle = handle
        var context: OpaquePointer?
        try driver.check(driver.retainPrimaryContext(&context, handle), "cuDevicePrimaryCtxRetain")
        guard let context else { throw CUDAUnavailable("cuDevicePrimaryCtxRetain gave no context") }
        self.context = context
        try driver.check(driver.setCurrentContext(context), "cuCtxSetCurrent")
        let compiler = try KernelCompiler(search: search)
        kernelTarget = try compiler.target(for: device.computeCapability)
        blas = try CUBLASLibrary(search: search)
        var blasHandle: CUBLASLibrary.Handle?
        try blas.check(blas.create(&blasHandle), "cublasCreate")
        guard let blasHandle else { throw CUDAUnavailable("cublasCreate gave no handle") }
        self.blasHandle = blasHandle
        try blas.check(blas.setMathMode(blasHandle, mathMode == .float32 ? CUBLASLibrary.MathMode.float32.rawValue
                                                                           : CUBLASLibrary.MathMode.tensorFloat32.rawValue),
                       "cublasSetMathMode")
        for unit in CUDAKernelSource.all {
            try load(compiler.compile(unit, target: kernelTarget), entryPoints: unit.entryPoints)
        }
    }

    private func load(_ image: KernelCompiler.Image, entryPoints: [String]) throws(CUDAUnavailable) {
        var module: OpaquePointer?
        let status = image.bytes.withUnsafeBytes { bytes in driver.loadModule(&module, bytes.baseAddress!) }
        try driver.check(status, "cuModuleLoadData(\(image.unit))")
        guard let module else { throw CUDAUnavailable("cuModuleLoadData(\(image.unit)) gave no module") }
        modules.append(module)
        for entry in entryPoints {
            var function: OpaquePointer?
            try driver.check(driver.moduleFunction(&function, module, entry), "cuModuleGetFunction(\(entry))")
            functions[entry] = function
        }
    }

    /// Buffers keep their context alive, so nothing is left on the device when this runs.
    deinit {
        _ = driver.setCurrentContext(context)
        _ = blas.destroy(blasHandle)
        for module in modules { _ = driver.unloadModule(module) }
        _ = driver.releasePrimaryContext(deviceHandle)
    }

    func makeCurrent() throws(CUDAUnavailable) {
        try driver.check(driver.setCurrentContext(context), "cuCtxSetCurrent")
    }

    public func buffer<Element>(_ type: Element.Type = Element.self, count: Int) throws(CUDAUnavailable) -> DeviceBuffer<Element> {
        try makeCurrent()
        return try DeviceBuffer(count: count, context: self)
    }

    /// Launches `kernel` on `shape`. Launches are asynchronous; errors inside a kernel surface
    /// at the next `synchronize()`.
    public func launch(_ kernel: String, _ shape: KernelLaunch, _ arguments: [KernelArgument]) throws(CUDAUnavailable) {
        guard let function = functions[kernel] else {
            preconditionFailure("no kernel named \(kernel) was compiled")
        }
        try makeCurrent()
        let status = withKernelParameters(arguments) { parameters in
            driver.launchKernel(function, shape.grid.x, shape.grid.y, shape.grid.z,
                                shape.block.x, shape.block.y, shape.block.z, 0, nil, parameters, nil)
        }
        try driver.check(status, "cuLaunchKernel(\(kernel))")
    }

    /// Waits for every launch and copy so far; reports the first failure among them.
    public func synchronize() throws(CUDAUnavailable) {
        try makeCurrent()
        try driver.check(driver.synchronize(), "cuCtxSynchronize")
    }

    /// target[j] += Σ_rows matrix[row, j] for a row-major matrix[rows, columns]: a cuBLAS
    /// matrix-vector product with ones, which spreads the rows over the whole device (a thread
    /// per column would leave most of it idle) and sums in a fixed order on every run.
    public func addColumnSums(into target: UInt64, of matrix: UInt64, rows: Int, columns: Int) throws(CUDAUnavailable) {
        if (ones?.count ?? 0) < rows {
            let buffer = try self.buffer(Float.self, count: rows)
            try driver.check(driver.fill32(buffer.address, Float(1).bitPattern, rows), "cuMemsetD32")
            ones = buffer
        }
        try makeCurrent()
        var alpha: Float = 1, beta: Float = 1
        // Row-major [rows, columns] is column-major [columns, rows]: its product with ones sums each row of that.
        let status = blas.sgemv(
            blasHandle, CUBLASLibrary.noTranspose, Int32(columns), Int32(rows), &alpha,
            UnsafePointer<Float>(bitPattern: UInt(matrix)), Int32(columns), UnsafePointer<Float>(bitPattern: UInt(ones!.address)),
            1, &beta, UnsafeMutablePointer<Float>(bitPattern: UInt(target)), 1)
        try blas.check(status, "cublasSgemv")
    }

    /// Row-major `C = alpha·op(A)·op(B) + beta·C` on device addresses, the CPU trainer's gemm.
    /// cuBLAS is column-major, and a row-major C is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so the
    /// operands swap places.
    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UInt64, lda: Int, b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int,
        batch: (count: Int, strideA: Int, strideB: Int, strideC: Int)? = nil
    ) throws(CUDAUnavailable) {
        try makeCurrent()
        var alpha = alpha, beta = beta
        let opA = transposeA ? CUBLASLibrary.transpose : CUBLASLibrary.noTranspose
        let opB = transposeB ? CUBLASLibrary.transpose : CUBLASLibrary.noTranspose
        let pa = UnsafePointer<Float>(bitPattern: UInt(a)), pb = UnsafePointer<Float>(bitPattern: UInt(b))
        let pc = UnsafeMutablePointer<Float>(bitPattern: UInt(c))
        let status: CUBLASLibrary.Status
        if let batch {
            status = blas.sgemmStridedBatched(
                blasHandle, opB, opA, Int32(n), Int32(m), Int32(k), &alpha, pb, Int32(ldb), Int64(batch.strideB),
                pa, Int32(lda), Int64(batch.strideA), &beta, pc, Int32(ldc), Int64(batch.strideC), Int32(batch.count))
        } else {
            status = blas.sgemm(blasHandle, opB, opA, Int32(n), Int32(m), Int32(k), &alpha, pb, Int32(ldb),
                                pa, Int32(lda), &beta, pc, Int32(ldc))
        }
        try blas.check(status, "cublasSgemm")
    }
}

extension CUDAContext {
    /// The best FLOP/s of a 4096³ float32 product (in this context's math mode) over about
    /// `seconds`: what this GPU's cuBLAS reaches, for the benchmark's report.
    public func gemmPeak(seconds: Double = 1) throws(CUDAUnavailable) -> Double {
        let n = 4096
        let a = try buffer(Float.self, count: n * n), b = try buffer(Float.self, count: n * n)
        let c = try buffer(Float.self, count: n * n)
        let values = (0..<(n * n)).map { Float($0 % 7) * 0.1 }
        try values.withUnsafeBufferPointer { (values) throws(CUDAUnavailable) in
            try a.upload(values)
            try b.upload(values)
        }
        var best = 0.0
        let start = DispatchTime.now().uptimeNanoseconds
        repeat {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try gemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1, a: a.address, lda: n,
                     b: b.address, ldb: n, beta: 0, c: c.address, ldc: n)
            try synchronize()
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            best = max(best, 2 * Double(n * n * n) / elapsed)
        } while Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds
        return best
    }
}
