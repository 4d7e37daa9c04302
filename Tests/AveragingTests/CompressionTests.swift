import Testing
@testable import Averaging

@Suite struct CompressionTests {
    static func roundTrip(_ values: [Float], _ compression: Compression) -> [Float] {
        var bytes = [UInt8](repeating: 0, count: compression.encodedByteCount(elementCount: values.count))
        let written = values.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBytes { compression.encode(source, into: $0) }
        }
        #expect(written == bytes.count)
        var decoded = [Float](repeating: -1, count: values.count)
        bytes.withUnsafeBytes { raw in
            decoded.withUnsafeMutableBufferPointer { compression.decode(raw, into: $0) }
        }
        return decoded
    }

    @Test func noneIsExact() {
        let values: [Float] = [0, -0.0, 1, -3.5e-38, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 1e-3]
        #expect(Self.roundTrip(values, .none).map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func everyHalfSurvivesARoundTripThroughFloat() {
        let halves = (UInt16.min...UInt16.max).map { $0 }
        let floats = [Float](unsafeUninitializedCapacity: halves.count) { values, initialized in
            halves.withUnsafeBytes { Compression.float16.decode($0, into: values) }
            initialized = halves.count
        }
        var back = [UInt16](repeating: 0, count: halves.count)
        floats.withUnsafeBufferPointer { values in
            back.withUnsafeMutableBytes { _ = Compression.float16.encode(values, into: $0) }
        }
        for (bits, encoded) in zip(halves, back) {
            switch bits & 0x7FFF {
            case 0x7C00: #expect(encoded == bits & 0x8000 | 0x7BFF)
            case 0x7C01...: #expect(encoded == bits & 0x8000 | 0x7E00, "half \(bits)")
            default: #expect(encoded == bits, "half \(bits)")
            }
        }
    }

    @Test func float16RoundsHalfwayCasesToEven() {
        let cases: [(Float, Float)] = [
            (1 + 0x1p-11, 1),                   // tie between 1 and 1 + 2⁻¹⁰: even is 1
            (1 + 3 * 0x1p-11, 1 + 0x1p-9),      // tie between 1 + 2⁻¹⁰ and 1 + 2⁻⁹: even is the latter
            (1 + 0x1p-11 + 0x1p-20, 1 + 0x1p-10),
            (0x1p-25, 0),                       // half of the smallest subnormal: ties to zero
            (0x1p-25 + 0x1p-40, 0x1p-24),
            (3 * 0x1p-25, 2 * 0x1p-24),
        ]
        for (input, expected) in cases {
            #expect(Self.roundTrip([input, -input], .float16) == [expected, -expected], "\(input)")
        }
    }

    @Test func float16ClampsToTheHalfRangeAndKeepsNaN() {
        let decoded = Self.roundTrip([70_000, -.infinity, 65_519, 65_520, .nan], .float16)
        #expect(decoded[0...3] == [65_504, -65_504, 65_504, 65_504])
        #expect(decoded[4].isNaN)
    }

    @Test(arguments: [1, 2, 3]) func float16ErrorIsWithinTwoToTheMinusElevenRelative(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let normal = (0..<5_000).map { _ in
            Float.random(in: 1..<2, using: &random) * Float(sign: .plus, exponent: Int.random(in: -14...14, using: &random), significand: 1)
                * (Bool.random(using: &random) ? 1 : -1)
        }
        for (value, decoded) in zip(normal, Self.roundTrip(normal, .float16)) {
            #expect(abs(decoded - value) <= 0x1p-11 * abs(value), "\(value) → \(decoded)")
        }
        let subnormal = (0..<2_000).map { _ in Float.random(in: -0x1p-14...0x1p-14, using: &random) }
        for (value, decoded) in zip(subnormal, Self.roundTrip(subnormal, .float16)) {
            #expect(abs(decoded - value) <= 0x1p-25, "\(value) → \(decoded)")
        }
    }

    @Test func int8EncodesAScaleAndOneByteperValue() {
        #expect(Compression.blockwiseInt8(blockSize: 256).encodedByteCount(elementCount: 300) == 2 * 4 + 300)
        #expect(Compression.blockwiseInt8(blockSize: 64).encodedByteCount(elementCount: 0) == 0)
    }

    @Test(arguments: [64, 256, 7]) func int8ErrorIsWithinHalfTheBlockScale(blockSize: Int) {
        var random = SeededRandom(seed: UInt64(blockSize))
        let values = (0..<3_000).map { index in
            Float.random(in: -1...1, using: &random) * Float(sign: .plus, exponent: (index / blockSize) % 20 - 10, significand: 1)
        }
        let decoded = Self.roundTrip(values, .blockwiseInt8(blockSize: blockSize))
        for blockStart in stride(from: 0, to: values.count, by: blockSize) {
            let block = blockStart..<min(blockStart + blockSize, values.count)
            let scale = values[block].map(\.magnitude).max()! / 127
            for index in block {
                #expect(abs(decoded[index] - values[index]) <= scale / 2 + scale * 0x1p-16, "value \(index)")
            }
        }
    }

    @Test func int8BlocksWithoutMagnitudeOrWithNonFiniteValues() {
        let values: [Float] = [0, 0, 0, 0, 1, .nan, 2, 3, 4, -8, 0.5, 1]
        let decoded = Self.roundTrip(values, .blockwiseInt8(blockSize: 4))
        #expect(decoded[0..<4] == [0, 0, 0, 0])
        #expect(decoded[4..<8].allSatisfy { $0.isNaN })
        #expect(abs(decoded[8] - 4) <= 4 / Float(127) && abs(decoded[9] + 8) <= 1e-6)
    }

    @Test(arguments: [Compression.none, .float16, .blockwiseInt8(blockSize: 16)])
    func accumulateAddsTheWeightedDecoding(compression: Compression) {
        var random = SeededRandom(seed: 9)
        let values = (0..<100).map { _ in Float.random(in: -4...4, using: &random) }
        var accumulator = (0..<100).map { Float($0) }
        let start = accumulator
        var bytes = [UInt8](repeating: 0, count: compression.encodedByteCount(elementCount: values.count))
        values.withUnsafeBufferPointer { source in
            _ = bytes.withUnsafeMutableBytes { compression.encode(source, into: $0) }
        }
        bytes.withUnsafeBytes { raw in
            accumulator.withUnsafeMutableBufferPointer { compression.accumulate(raw, weight: 3, into: $0) }
        }
        let decoded = Self.roundTrip(values, compression)
        for index in values.indices {
            #expect(accumulator[index] == start[index] + 3 * decoded[index])
        }
    }
}
