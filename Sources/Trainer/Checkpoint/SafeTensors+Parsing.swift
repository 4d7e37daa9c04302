import Foundation

extension SafeTensors {
    static func parseHeader(_ data: Data, url: URL) throws -> ([String: TensorInfo], [String: String], Int) {
        func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(url: url, reason: reason) }
        guard data.count >= 8 else { throw fail("is truncated: \(data.count) bytes, no safetensors header") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(maxHeaderBytes) else { throw fail("header length \(headerLength) exceeds \(maxHeaderBytes) bytes") }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("is truncated: header claims \(headerLength) bytes but the file has \(data.count - 8) after the length")
        }
        let dataStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart))
        } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }
        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let entries = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, entry) in entries {
                    guard let text = entry as? String else { throw fail("__metadata__ value for \"\(key)\" is not a string") }
                    metadata[key] = text
                }
                continue
            }
            tensors[name] = try parseTensor(name: name, value: value, fail: fail)
        }
        try checkLayout(tensors: tensors, dataBytes: data.count - dataStart, fail: fail)
        return (tensors, metadata, dataStart)
    }

    private static func parseTensor(name: String, value: Any, fail: (String) -> SafeTensorsError) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else { throw fail("tensor \"\(name)\" is not an object") }
        guard let dtypeName = entry["dtype"] as? String else { throw fail("tensor \"\(name)\" has no dtype") }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw fail("tensor \"\(name)\" has unsupported dtype \(dtypeName) (F32, F16, BF16 and F64 are read)")
        }
        guard let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
              shape.count == (entry["shape"] as? [Any])?.count, shape.count <= 8, shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 32 })
        else { throw fail("tensor \"\(name)\" has an invalid shape") }
        guard let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
              offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1]
        else { throw fail("tensor \"\(name)\" has invalid data_offsets") }
        let (elements, overflow) = shape.reduce((1, false)) { partial, dimension in
            let product = partial.0.multipliedReportingOverflow(by: dimension)
            return (product.partialValue, partial.1 || product.overflow)
        }
        let bytes = elements.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow, !bytes.overflow, bytes.partialValue == offsets[1] - offsets[0] else {
            throw fail("tensor \"\(name)\" shape \(shape) of \(dtypeName) does not match its \(offsets[1] - offsets[0]) bytes")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
    }

    /// Tensors must tile the data section exactly: no overlap, no hole, nothing past the end.
    private static func checkLayout(tensors: [String: TensorInfo], dataBytes: Int, fail: (String) -> SafeTensorsError) throws {
        var expectedStart = 0
        for tensor in tensors.values.sorted(by: { $0.byteRange.lowerBound < $1.byteRange.lowerBound }) {
            guard tensor.byteRange.lowerBound == expectedStart else {
                throw fail("tensor \"\(tensor.name)\" starts at byte \(tensor.byteRange.lowerBound), expected \(expectedStart) (overlap or hole)")
            }
            expectedStart = tensor.byteRange.upperBound
        }
        guard expectedStart == dataBytes else {
            throw fail(expectedStart > dataBytes
                ? "is truncated: tensors need \(expectedStart) data bytes, the file has \(dataBytes)"
                : "has \(dataBytes - expectedStart) bytes after the last tensor")
        }
    }

    static func convert(_ bytes: UnsafeRawBufferPointer, dtype: DType, into destination: UnsafeMutableBufferPointer<Float>) {
        switch dtype {
        case .f32:
            for index in destination.indices {
                destination[index] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
            }
        case .f64:
            for index in destination.indices {
                destination[index] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))))
            }
        case .f16:
            for index in destination.indices {
                destination[index] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))))
            }
        case .bf16:
            for index in destination.indices {
                let high = UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)))
                destination[index] = Float(bitPattern: high << 16)
            }
        }
    }
}
