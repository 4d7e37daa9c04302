import Foundation

/// The NVIDIA libraries the CUDA trainer loads at run time, and where it looks for each.
///
/// Order of search: the folders in `COHORT_CUDA_LIBRARY_PATH` (colon-separated), the dynamic
/// loader's own path (ldconfig, `LD_LIBRARY_PATH`), the CUDA toolkit's default folders, WSL's
/// driver folder, then the `lib` folders of NVIDIA's Python wheels (`pip install
/// nvidia-cuda-nvrtc-cu12 nvidia-cublas-cu12`, or those PyTorch brings) in the active virtualenv,
/// the python3 on PATH, the user's and the system's site-packages. The driver comes with the GPU's driver only, never from a wheel.
public enum CUDALibrary: String, CaseIterable, Sendable {
    case driver = "CUDA driver"
    case nvrtc = "NVRTC"
    case cublas = "cuBLAS"

    /// Newest first: a newer library serves kernels built for older devices too.
    var sonames: [String] {
        switch self {
        case .driver: ["libcuda.so.1"]
        case .nvrtc: ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"]
        case .cublas: ["libcublas.so.13", "libcublas.so.12", "libcublas.so"]
        }
    }

    /// Where the library sits inside site-packages when a wheel installed it.
    var wheelFolders: [String] {
        switch self {
        case .driver: []
        case .nvrtc: ["nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"]
        case .cublas: ["nvidia/cu13/lib", "nvidia/cublas/lib"]
        }
    }

    /// What a user installs to get it.
    var installHint: String {
        switch self {
        case .driver: "install NVIDIA's driver for the GPU"
        case .nvrtc: "install the CUDA toolkit or `pip install nvidia-cuda-nvrtc-cu12`"
        case .cublas: "install the CUDA toolkit or `pip install nvidia-cublas-cu12`"
        }
    }
}

/// Finds and opens the CUDA libraries; `environment` and the file system are read, nothing else.
struct CUDALibrarySearch {
    static let pathVariable = "COHORT_CUDA_LIBRARY_PATH"
    static let toolkitFolders = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/wsl/lib"]

    var environment: [String: String] = ProcessInfo.processInfo.environment

    /// Full paths to try, in order, then bare sonames for the dynamic loader.
    func candidates(for library: CUDALibrary) -> [String] {
        let configured = (environment[Self.pathVariable] ?? "").split(separator: ":").map(String.init)
        var paths = configured.flatMap { folder in library.sonames.map { "\(folder)/\($0)" } }
        paths += library.sonames
        let folders = Self.toolkitFolders + sitePackages().flatMap { site in library.wheelFolders.map { "\(site)/\($0)" } }
        paths += folders.flatMap { folder in library.sonames.map { "\(folder)/\($0)" } }
            .filter { FileManager.default.fileExists(atPath: $0) }
        return paths
    }

    /// Opens the first candidate that loads. A candidate that exists but fails to load (a
    /// missing dependency, the wrong architecture) is what gets reported if none loads.
    func open(_ library: CUDALibrary) throws(CUDAUnavailable) -> SharedLibrary {
        var firstFailure: SharedLibrary.LoadFailure?
        for path in candidates(for: library) {
            switch SharedLibrary.open(path) {
            case .success(let opened): return opened
            case .failure(let failure):
                if !failure.isMissing && firstFailure == nil { firstFailure = failure }
            }
        }
        if let firstFailure {
            throw CUDAUnavailable("\(library.rawValue) found but not loadable: \(firstFailure.reason)")
        }
        var places = ["the loader's path", "/usr/local/cuda"]
        if environment[Self.pathVariable] != nil { places.insert(Self.pathVariable, at: 0) }
        if !library.wheelFolders.isEmpty { places.append("NVIDIA's Python wheels") }
        throw CUDAUnavailable("no \(library.rawValue) library (\(library.sonames.joined(separator: ", "))) in "
            + "\(places.joined(separator: ", ")); \(library.installHint)")
    }

    /// site-packages (or dist-packages) folders of the active virtualenv, the user and the system.
    func sitePackages() -> [String] {
        var prefixes: [String] = []
        if let virtualEnvironment = environment["VIRTUAL_ENV"] { prefixes.append("\(virtualEnvironment)/lib") }
        // The python3 first on PATH, as in an image whose virtualenv is on PATH but not active.
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        if let folder = path.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/python3") }), folder.hasSuffix("/bin") {
            prefixes.append(String(folder.dropLast("/bin".count)) + "/lib")
        }
        if let home = environment["HOME"] { prefixes.append("\(home)/.local/lib") }
        prefixes += ["/usr/local/lib", "/usr/lib"]
        var folders: [String] = []
        for prefix in prefixes {
            let pythons = (try? FileManager.default.contentsOfDirectory(atPath: prefix))?
                .filter { $0 == "python3" || $0.hasPrefix("python3.") }.sorted() ?? []
            for python in pythons {
                for kind in ["site-packages", "dist-packages"] {
                    let folder = "\(prefix)/\(python)/\(kind)"
                    if FileManager.default.fileExists(atPath: folder) { folders.append(folder) }
                }
            }
        }
        return folders
    }
}
