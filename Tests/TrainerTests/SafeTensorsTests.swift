import Foundation
import Testing
@testable import Trainer

@Suite struct SafeTensorsTests {
    static func write(_ bytes: [UInt8]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-\(UUID().uuidString).safetensors")
        try Data(bytes).write(to: url)
        return url
    }

    static func file(header: String, dataBytes: Int) -> [UInt8] {
        let json = Array(header.utf8)
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        bytes += json
        bytes += [UInt8](repeating: 0, count: dataBytes)
        return bytes
    }

    @Test func roundTripKeepsNamesShapesValuesAndMetadata() throws {
        let values: [Float] = [1, -2, 3.5, 0, 1e-20, 6]
        let data = try values.withUnsafeBufferPointer {
            try SafeTensors.encode(tensors: [(name: "w", shape: [2, 3], values: $0)], metadata: ["step": "7"])
        }
        let url = try Self.write([UInt8](data))
        defer { try? FileManager.default.removeItem(at: url) }
        let file = try SafeTensors.File(contentsOf: url)
        #expect(file.tensors["w"]?.shape == [2, 3])
        #expect(file.metadata["step"] == "7")
        #expect(try file.readArray("w") == values)
    }

    @Test(arguments: [
        ("", 0, "truncated"),
        (#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, 4, "truncated"),
        (#"{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, 8, "does not match"),
        (#"{"w": {"dtype": "I8", "shape": [8], "data_offsets": [0, 8]}}"#, 8, "unsupported dtype"),
        (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, 8, "overlap or hole"),
        (#"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#, 4, "invalid shape"),
        (#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, 12, "bytes after the last tensor"),
        (#"{"w": [1, 2]}"#, 0, "is not an object"),
        (#"not json at all"#, 0, "not valid JSON"),
    ])
    func malformedFilesAreRefusedWithAReason(header: String, dataBytes: Int, reason: String) throws {
        let bytes = header.isEmpty ? [1, 2, 3] : Self.file(header: header, dataBytes: dataBytes)
        let url = try Self.write(bytes)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = try #require(throws: SafeTensorsError.self) { try SafeTensors.File(contentsOf: url) }
        #expect(error.reason.contains(reason), "\(error.reason)")
    }

    /// Found with FuzzSafeTensors: 2³¹ × 2³⁰ F64 values need 2⁶⁴ bytes, which wrapped to 0 and
    /// matched empty data offsets. The tensor was accepted with 2⁶¹ elements, and reading it
    /// (`readArray`, as the checkpoint loader does for `lm_head.weight`) tried to allocate them.
    @Test(arguments: [("F64", "[2147483648, 1073741824]"), ("F32", "[4294967296, 1073741824]"), ("F64", "[2097152, 1048576, 1048576]")])
    func fuzzCrashByteCountOverflowIsRefused(dtype: String, shape: String) throws {
        let header = #"{"t":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[0,0]}}"#
        let url = URL(fileURLWithPath: "/fuzz/overflow.safetensors")
        let error = #expect(throws: SafeTensorsError.self) {
            try SafeTensors.File(data: Data(Self.file(header: header, dataBytes: 0)), url: url)
        }
        #expect(error?.reason.contains("does not match") == true)
    }

    @Test func hugeHeaderLengthIsRefusedBeforeAllocating() throws {
        var bytes = withUnsafeBytes(of: UInt64.max.littleEndian) { Array($0) }
        bytes += Array("{}".utf8)
        let url = try Self.write(bytes)
        defer { try? FileManager.default.removeItem(at: url) }
        let error = try #require(throws: SafeTensorsError.self) { try SafeTensors.File(contentsOf: url) }
        #expect(error.reason.contains("header length"))
    }

    @Test func halfAndBrainFloatConvert() {
        let half: [UInt16] = [0x3C00, 0xC000, 0x3555]      // 1, −2, ≈0.333
        let brain: [UInt16] = [0x3F80, 0xC040, 0x0000]     // 1, −3, 0
        var out = [Float](repeating: 0, count: 3)
        half.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { SafeTensors.convert(raw, dtype: .f16, into: $0) } }
        #expect(out[0] == 1 && out[1] == -2 && abs(out[2] - 0.333) < 1e-3)
        brain.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { SafeTensors.convert(raw, dtype: .bf16, into: $0) } }
        #expect(out == [1, -3, 0])
    }
}
