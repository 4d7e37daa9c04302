import Foundation

/// Compiles the kernel units with NVRTC for one GPU architecture.
///
/// For a device NVRTC knows it emits machine code (CUBIN, `sm_XY`), which uses the device's own
/// instructions and needs no JIT at load. For a device newer than this NVRTC it emits PTX for the
/// newest architecture it knows, which the driver compiles at load.
public struct KernelCompiler: Sendable {
    /// What one compilation produced: an image `cuModuleLoadData` accepts.
    public struct Image: Sendable {
        public enum Kind: Sendable { case cubin, ptx }
        public let unit: String
        public let kind: Kind
        /// The architecture it targets, as in `sm_90` or `compute_90`.
        public let target: String
        /// CUBIN bytes, or PTX text with its terminating zero.
        public let bytes: [UInt8]
    }

    let nvrtc: NVRTCLibrary

    public init() throws(CUDAUnavailable) {
        try self.init(search: CUDALibrarySearch())
    }

    init(search: CUDALibrarySearch) throws(CUDAUnavailable) {
        nvrtc = try NVRTCLibrary(search: search)
    }

    /// NVRTC's version, as in "12.9".
    public var version: String {
        var major: Int32 = 0, minor: Int32 = 0
        _ = nvrtc.version(&major, &minor)
        return "\(major).\(minor)"
    }

    /// The architectures this NVRTC can emit machine code for, oldest first.
    public var supportedArchitectures: [Int] {
        var count: Int32 = 0
        guard nvrtc.numberOfSupportedArchitectures(&count) == 0, count > 0 else { return [] }
        var numbers = [Int32](repeating: 0, count: Int(count))
        guard nvrtc.supportedArchitectures(&numbers) == 0 else { return [] }
        return numbers.map(Int.init).sorted()
    }

    /// `sm_XY` when this NVRTC knows the device, else `compute_` of the newest architecture it
    /// knows that the device can run (PTX is forward compatible, not backward).
    public func target(for device: ComputeCapability) throws(CUDAUnavailable) -> String {
        let known = supportedArchitectures
        if known.contains(device.number) { return "sm_\(device.number)" }
        guard let newest = known.last(where: { $0 <= device.number }) else {
            throw CUDAUnavailable("NVRTC \(version) cannot compile for compute capability \(device): "
                + "it supports \(known.map(String.init).joined(separator: ", "))")
        }
        return "compute_\(newest)"
    }

    /// Compiles `unit` for `target` (`sm_XY` gives CUBIN, `compute_XY` PTX). A compile error
    /// throws with NVRTC's log, which names the unit and line.
    public func compile(_ unit: CUDAKernelSource, target: String) throws(CUDAUnavailable) -> Image {
        var created: NVRTCLibrary.Program?
        let status = nvrtc.createProgram(&created, unit.code, unit.name, 0, nil, nil)
        guard status == 0, let program = created else {
            throw CUDAUnavailable("NVRTC could not take \(unit.name): \(nvrtc.describe(status))")
        }
        defer { _ = nvrtc.destroyProgram(&created) }
        let options = ["--gpu-architecture=\(target)", "--std=c++17"]
        let compiled = withCStrings(options) { pointers in
            nvrtc.compileProgram(program, Int32(pointers.count), pointers.baseAddress)
        }
        guard compiled == 0 else {
            throw CUDAUnavailable("\(unit.name) does not compile for \(target): \(log(of: program))")
        }
        let kind: Image.Kind = target.hasPrefix("sm_") ? .cubin : .ptx
        var size = 0
        let sized = kind == .cubin ? nvrtc.cubinSize(program, &size) : nvrtc.ptxSize(program, &size)
        guard sized == 0, size > 0 else {
            throw CUDAUnavailable("NVRTC produced no \(kind) for \(unit.name): \(nvrtc.describe(sized))")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        let copied = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { characters in
                kind == .cubin ? nvrtc.cubin(program, characters.baseAddress!) : nvrtc.ptx(program, characters.baseAddress!)
            }
        }
        guard copied == 0 else {
            throw CUDAUnavailable("NVRTC could not hand over \(unit.name)'s \(kind): \(nvrtc.describe(copied))")
        }
        return Image(unit: unit.name, kind: kind, target: target, bytes: bytes)
    }

    /// NVRTC's messages for `program`, on one line.
    private func log(of program: NVRTCLibrary.Program) -> String {
        var size = 0
        guard nvrtc.programLogSize(program, &size) == 0, size > 1 else { return "no log" }
        var characters = [CChar](repeating: 0, count: size)
        guard nvrtc.programLog(program, &characters) == 0 else { return "no log" }
        let text = String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " | ")
    }
}

/// Calls `body` with C strings for `strings` that live until it returns.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    let pointers = duplicates.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer(body)
}
