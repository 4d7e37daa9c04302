import CAveragingKernels
import Testing
@testable import Averaging

/// The AVX2 + F16C kernels must give the portable kernels' bits exactly: members on different
/// CPUs decode the same averages, and an owner's result must not depend on which one it ran.
@Suite struct VectorKernelTests {
    /// Values that exercise every branch: ordinary magnitudes across the half and int8 ranges,
    /// ties, subnormals, values that clamp, zeros of both signs, and (when asked) non-finite ones.
    static func values(count: Int, seed: UInt64, nonFinite: Bool) -> [Float] {
        var random = SeededRandom(seed: seed)
        let specials: [Float] = [0, -0.0, 65_504, 65_519, 65_520, -70_000, 0x1p-25, 3 * 0x1p-25, 1 + 0x1p-11,
                                 .leastNonzeroMagnitude, -.leastNormalMagnitude, 1e-8]
            + (nonFinite ? [.infinity, -.infinity, .nan, Float(bitPattern: 0x7FA0_0001)] : [])
        return (0..<count).map { index in
            if index % 37 == 0 { return specials[(index / 37) % specials.count] }
            let exponent = Int.random(in: -30...17, using: &random)
            return Float.random(in: -1...1, using: &random) * Float(sign: .plus, exponent: exponent, significand: 1)
        }
    }

    static func bytes(_ count: Int, _ fill: (UnsafeMutablePointer<UInt8>) -> Void) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xAA, count: count)
        bytes.withUnsafeMutableBufferPointer { fill($0.baseAddress!) }
        return bytes
    }

    static func floats(_ count: Int, from start: [Float] = [], _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [UInt32] {
        var values = start.isEmpty ? [Float](repeating: 0, count: count) : start
        values.withUnsafeMutableBufferPointer { fill($0.baseAddress!) }
        return values.map(\.bitPattern)
    }

    @Test(arguments: [0, 1, 7, 8, 9, 1_000, 4_099]) func float16KernelsMatchThePortableOnes(count: Int) {
        let values = Self.values(count: count, seed: UInt64(count), nonFinite: true)
        let encoded = Self.bytes(2 * count) { averaging_f16_encode(values, count, $0) }
        #expect(encoded == Self.bytes(2 * count) { averaging_f16_encode_portable(values, count, $0) })
        #expect(Self.floats(count) { averaging_f16_decode(encoded, count, $0) }
            == Self.floats(count) { averaging_f16_decode_portable(encoded, count, $0) })
        let start = Self.values(count: count, seed: 99, nonFinite: false)
        #expect(Self.floats(count, from: start) { averaging_f16_accumulate(encoded, count, 0.37, $0) }
            == Self.floats(count, from: start) { averaging_f16_accumulate_portable(encoded, count, 0.37, $0) })
    }

    @Test(arguments: [(0, 256), (5, 256), (1_000, 256), (1_000, 7), (4_099, 64), (333, 40)])
    func int8KernelsMatchThePortableOnes(count: Int, blockSize: Int) {
        var values = Self.values(count: count, seed: UInt64(count + blockSize), nonFinite: false)
        if count > 600 { values[600] = .nan }
        let length = (count + blockSize - 1) / blockSize * 4 + count
        let encoded = Self.bytes(length) { averaging_int8_encode(values, count, blockSize, $0) }
        #expect(encoded == Self.bytes(length) { averaging_int8_encode_portable(values, count, blockSize, $0) })
        #expect(Self.floats(count) { averaging_int8_decode(encoded, count, blockSize, $0) }
            == Self.floats(count) { averaging_int8_decode_portable(encoded, count, blockSize, $0) })
        let start = Self.values(count: count, seed: 5, nonFinite: false)
        #expect(Self.floats(count, from: start) { averaging_int8_accumulate(encoded, count, blockSize, 2.5, $0) }
            == Self.floats(count, from: start) { averaging_int8_accumulate_portable(encoded, count, blockSize, 2.5, $0) })
    }

    @Test(arguments: [0, 3, 8, 1_001]) func float32AccumulationMatchesThePortableOne(count: Int) {
        let values = Self.values(count: count, seed: 7, nonFinite: false)
        let wire = values.withUnsafeBytes { Array($0) }
        let start = Self.values(count: count, seed: 8, nonFinite: false)
        #expect(Self.floats(count, from: start) { averaging_f32_accumulate(wire, count, 1.5, $0) }
            == Self.floats(count, from: start) { averaging_f32_accumulate_portable(wire, count, 1.5, $0) })
    }

    @Test func nonFiniteCountAndSumOfSquaresAgreeWithThePortableOnes() {
        let values = Self.values(count: 5_003, seed: 3, nonFinite: true)
        // One byte in, so the loads are unaligned as they are in a received chunk.
        let bytes = [0] + values.withUnsafeBytes { Array($0) }
        var vectorSum = 0.0, portableSum = 0.0
        let vectorCount = bytes.withUnsafeBufferPointer { averaging_nonfinite_count($0.baseAddress! + 1, values.count, &vectorSum) }
        let portableCount = bytes.withUnsafeBufferPointer {
            averaging_nonfinite_count_portable($0.baseAddress! + 1, values.count, &portableSum)
        }
        #expect(vectorCount == portableCount)
        #expect(vectorCount == values.filter { !$0.isFinite }.count)
        #expect(abs(vectorSum - portableSum) <= 1e-12 * portableSum)
    }

    /// The counts read from an encoding equal the counts over its decoding, and the vector and
    /// portable readers agree.
    @Test(arguments: [Compression.none, .float16, .blockwiseInt8(blockSize: 256), .blockwiseInt8(blockSize: 7)])
    func checksOfEncodedChunksMatchTheirDecoding(compression: Compression) {
        var values = Self.values(count: 3_001, seed: 11, nonFinite: false)
        values[17] = .nan
        values[2_000] = -.infinity
        var encoded = [UInt8](repeating: 0, count: compression.encodedByteCount(elementCount: values.count))
        values.withUnsafeBufferPointer { source in encoded.withUnsafeMutableBytes { _ = compression.encode(source, into: $0) } }
        var decoded = [Float](repeating: 0, count: values.count)
        encoded.withUnsafeBytes { raw in decoded.withUnsafeMutableBufferPointer { compression.decode(raw, into: $0) } }
        let read = encoded.withUnsafeBytes { compression.nonFiniteCountAndSumOfSquares($0, elementCount: values.count) }
        let finite = decoded.filter(\.isFinite)
        #expect(read.nonFinite == decoded.count - finite.count)
        #expect(read.nonFinite > 0)
        let expected = finite.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(read.sumOfSquares - expected) <= 1e-12 * expected)
        var portableSum = 0.0
        let portableCount: Int = encoded.withUnsafeBufferPointer { bytes in
            switch compression {
            case .none: averaging_nonfinite_count_portable(bytes.baseAddress!, values.count, &portableSum)
            case .float16: averaging_f16_nonfinite_count_portable(bytes.baseAddress!, values.count, &portableSum)
            case .blockwiseInt8(let blockSize):
                averaging_int8_nonfinite_count_portable(bytes.baseAddress!, values.count, blockSize, &portableSum)
            }
        }
        #expect(portableCount == read.nonFinite)
        #expect(abs(portableSum - read.sumOfSquares) <= 1e-12 * expected)
    }
}
