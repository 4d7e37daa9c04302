import Foundation
import FuzzSupport
import Trainer

/// Parses arbitrary bytes as a safetensors file and reads every tensor it accepts: a file that
/// parses must describe tensors whose bytes lie inside it and match their shape and dtype.
/// Any crash, hang or sanitizer report is a bug; thrown `SafeTensorsError`s are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let file = try? SafeTensors.File(data: bytes, url: URL(fileURLWithPath: "/fuzz/input.safetensors")) else { return 0 }
    for (name, info) in file.tensors {
        let byteCount = switch info.dtype {
        case .f32: 4
        case .f16, .bf16: 2
        case .f64: 8
        }
        precondition(info.byteRange.lowerBound >= 0 && info.byteRange.upperBound <= size,
                     "tensor \(name) at \(info.byteRange) lies outside the \(size)-byte file")
        let elements = info.shape.reduce((1, false)) { partial, dimension in
            let product = partial.0.multipliedReportingOverflow(by: dimension)
            return (product.partialValue, partial.1 || product.overflow)
        }
        let bytesNeeded = elements.0.multipliedReportingOverflow(by: byteCount)
        precondition(!elements.1 && !bytesNeeded.overflow && bytesNeeded.partialValue == info.byteRange.count,
                     "tensor \(name) of shape \(info.shape) (\(info.dtype)) was accepted for \(info.byteRange.count) bytes")
        guard let values = try? file.readArray(name) else { preconditionFailure("tensor \(name) was accepted but cannot be read") }
        precondition(values.count == info.elementCount)
    }
    return 0
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzSafeTensors_main")
public func fuzzSafeTensorsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzSafeTensors, seeds: seeds)
}

/// Valid files (one and several tensors, metadata, every dtype); `runFuzzer` adds truncated copies when it writes the corpus.
private func seeds() -> [FuzzSeed] {
    func encoded(_ tensors: [(String, [Int], [Float])], metadata: [String: String] = [:]) -> [UInt8] {
        let buffers = tensors.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, $0.2.count)) }
        defer { buffers.forEach { $0.deallocate() } }
        for (buffer, tensor) in zip(buffers, tensors) { _ = buffer.initialize(from: tensor.2) }
        let list = zip(tensors, buffers).map { tensor, buffer in
            (name: tensor.0, shape: tensor.1, values: UnsafeBufferPointer(rebasing: buffer[0..<tensor.2.count]))
        }
        return Array(try! SafeTensors.encode(tensors: list, metadata: metadata))
    }
    func raw(_ header: String, _ data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
    }
    return [
        ("one-tensor", encoded([("weight", [2, 3], [1, 2, 3, 4, 5, 6])])),
        ("two-tensors-metadata", encoded([("a", [4], [0.5, -1, 2, 8]), ("b", [], [3])], metadata: ["format": "pt"])),
        ("empty", encoded([])),
        ("dtypes", raw(#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"d":{"dtype":"F64","shape":[1,1],"data_offsets":[6,14]}}"#,
                       [0, 60, 0, 188, 128, 63, 0, 0, 0, 0, 0, 0, 240, 63])),
        ("zero-size", raw(#"{"z":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]}}"#, [])),
    ]
}
