import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the tensor bytes.
///
/// The reader validates everything before it trusts it: header length against the file, every
/// dtype, every shape against its byte range, every range against the data section, and that
/// ranges neither overlap nor leave holes. Any failure is a `SafeTensorsError` naming the file.
public enum SafeTensors {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"

        var byteCount: Int {
            switch self {
            case .f32: 4
            case .f16, .bf16: 2
            case .f64: 8
            }
        }
    }

    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let byteRange: Range<Int>
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The largest JSON header accepted; real headers of models with thousands of tensors are far smaller.
    static let maxHeaderBytes = 64 << 20

    /// A parsed file: tensor descriptions plus the mapped bytes they point into.
    public struct File: Sendable {
        public let url: URL
        public let tensors: [String: TensorInfo]
        public let metadata: [String: String]
        let data: Data
        let dataStart: Int

        public init(contentsOf url: URL) throws {
            self.url = url
            do {
                data = try Data(contentsOf: url, options: .alwaysMapped)
            } catch {
                throw SafeTensorsError(url: url, reason: "cannot be read (\((error as NSError).localizedDescription))")
            }
            (tensors, metadata, dataStart) = try SafeTensors.parseHeader(data, url: url)
        }

        /// Parses safetensors bytes already in memory; `url` names them in errors.
        public init(data: Data, url: URL) throws {
            self.url = url
            // The parser indexes from zero; a slice of a larger `Data` does not start there.
            self.data = data.startIndex == 0 ? data : Data(data)
            (tensors, metadata, dataStart) = try SafeTensors.parseHeader(data, url: url)
        }

        /// Converts the named tensor to Float32 into `destination`, which must hold exactly its elements.
        public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
            guard let info = tensors[name] else { throw SafeTensorsError(url: url, reason: "has no tensor \"\(name)\"") }
            guard info.elementCount == destination.count else {
                throw SafeTensorsError(url: url, reason: "tensor \"\(name)\" has \(info.elementCount) elements, expected \(destination.count)")
            }
            data.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + info.byteRange.lowerBound)..<(dataStart + info.byteRange.upperBound)])
                SafeTensors.convert(bytes, dtype: info.dtype, into: destination)
            }
        }

        public func readArray(_ name: String) throws -> [Float] {
            guard let info = tensors[name] else { throw SafeTensorsError(url: url, reason: "has no tensor \"\(name)\"") }
            var values = [Float](repeating: 0, count: info.elementCount)
            try values.withUnsafeMutableBufferPointer { try read(name, into: $0) }
            return values
        }
    }

    /// Serialises Float32 tensors (name, shape, values) with optional string metadata.
    public static func encode(tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)],
                              metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for tensor in tensors {
            precondition(tensor.shape.reduce(1, *) == tensor.values.count, "shape of \(tensor.name) does not match its values")
            let end = offset + tensor.values.count * 4
            header[tensor.name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, end]] as [String: Any]
            offset = end
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so that tensor data starts 8-byte aligned.
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for tensor in tensors {
            tensor.values.withMemoryRebound(to: UInt8.self) { bytes in
                // Float32 values are written as stored: little-endian on every platform Cohort runs on.
                out.append(bytes.baseAddress!, count: bytes.count)
            }
        }
        return out
    }
}

public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public let url: URL
    public let reason: String
    public var description: String { "\(url.path): \(reason)" }
}
