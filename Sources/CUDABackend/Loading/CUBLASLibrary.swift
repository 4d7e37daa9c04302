/// The cuBLAS entry points the trainer's matrix products use, bound at run time. Status 0 is
/// CUBLAS_STATUS_SUCCESS; cuBLAS works on the calling thread's current (primary) context.
struct CUBLASLibrary: @unchecked Sendable {
    typealias Status = Int32
    typealias Handle = OpaquePointer

    let library: SharedLibrary
    let create: @convention(c) (UnsafeMutablePointer<Handle?>) -> Status
    let destroy: @convention(c) (Handle) -> Status
    let setMathMode: @convention(c) (Handle, Int32) -> Status
    let sgemm: @convention(c) (
        Handle, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, UnsafePointer<Float>, UnsafeMutablePointer<Float>?, Int32
    ) -> Status
    let sgemmStridedBatched: @convention(c) (
        Handle, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>, UnsafePointer<Float>?, Int32, Int64,
        UnsafePointer<Float>?, Int32, Int64, UnsafePointer<Float>, UnsafeMutablePointer<Float>?, Int32, Int64, Int32
    ) -> Status
    let sgemv: @convention(c) (
        Handle, Int32, Int32, Int32, UnsafePointer<Float>, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>, UnsafeMutablePointer<Float>?, Int32
    ) -> Status
    let statusName: @convention(c) (Status) -> UnsafePointer<CChar>?

    /// cublasMath_t: plain float32, or float32 data through TF32 tensor cores.
    enum MathMode: Int32 {
        case float32 = 0
        case tensorFloat32 = 3
    }

    /// cublasOperation_t.
    static let noTranspose: Int32 = 0
    static let transpose: Int32 = 1

    init(search: CUDALibrarySearch = CUDALibrarySearch()) throws(CUDAUnavailable) {
        let library = try search.open(.cublas)
        self.library = library
        create = try library.function("cublasCreate_v2")
        destroy = try library.function("cublasDestroy_v2")
        setMathMode = try library.function("cublasSetMathMode")
        sgemm = try library.function("cublasSgemm_v2")
        sgemmStridedBatched = try library.function("cublasSgemmStridedBatched")
        sgemv = try library.function("cublasSgemv_v2")
        statusName = try library.function("cublasGetStatusName")
    }

    func check(_ status: Status, _ call: String) throws(CUDAUnavailable) {
        guard status != 0 else { return }
        let name = statusName(status).map { String(cString: $0) } ?? "cuBLAS status \(status)"
        throw CUDAUnavailable("\(call) failed: \(name)")
    }
}
