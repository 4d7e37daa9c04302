#if canImport(Glibc)
import Glibc
#endif

/// A shared library opened with dlopen and never closed: the CUDA libraries keep process-wide
/// state (contexts, the JIT cache) that must outlive every object that used them.
struct SharedLibrary: @unchecked Sendable {
    /// The path or soname it was opened by.
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens `path` (a full path, or a soname for the dynamic loader to search), or returns
    /// dlerror's account of why not.
    static func open(_ path: String) -> Result<SharedLibrary, LoadFailure> {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            return .failure(LoadFailure(path: path, reason: reason))
        }
        return .success(SharedLibrary(path: path, handle: handle))
    }

    /// The function `name` as the C function type `F` (an `@convention(c)` type that must match
    /// the library's declaration).
    func function<F>(_ name: String, as type: F.Type = F.self) throws(CUDAUnavailable) -> F {
        guard let address = dlsym(handle, name) else {
            throw CUDAUnavailable("\(path) lacks \(name): the library is older than Cohort needs")
        }
        return unsafeBitCast(address, to: F.self)
    }

    struct LoadFailure: Error {
        let path: String
        let reason: String
        /// Whether the loader found no such file, as against one it found and could not load.
        var isMissing: Bool { reason.contains("No such file") }
    }
}
