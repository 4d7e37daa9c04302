import Testing
import Wire

@Suite struct CRC32CTests {
    @Test func matchesTheCastagnoliCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func emptyInputIsZero() {
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func continuingEqualsOneShot() {
        let bytes: [UInt8] = (0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let first = CRC32C.checksum(bytes[..<123])
        #expect(CRC32C.checksum(bytes[123...], continuing: first) == CRC32C.checksum(bytes))
    }

    @Test func knownVectorOf32Zeros() {
        // RFC 3720 §B.4: 32 bytes of zeros.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test func instructionAndTableAgreeAtEveryLengthAndOffset() {
        let bytes: [UInt8] = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 17) }
        for start in 0..<9 {
            for end in start...bytes.count {
                let contiguous = CRC32C.checksum(bytes[start..<end], continuing: 0x1234_5678)
                let byteByByte = CRC32C.checksum(bytes[start..<end].lazy.map { $0 }, continuing: 0x1234_5678)
                let raw = bytes[start..<end].withUnsafeBytes { CRC32C.checksum($0, continuing: 0x1234_5678) }
                #expect(contiguous == byteByByte && raw == byteByByte, "bytes \(start)..<\(end)")
            }
        }
    }
}

@Suite struct CRC32CLongInputTests {
    /// Inputs of several kilobytes take the instruction's three-lane path; it must agree with
    /// the byte-by-byte table at lengths around the lane boundaries and at every alignment.
    @Test(arguments: [3071, 3072, 3073, 6144, 9999, 65_537])
    func threeLanePathAgreesWithTheTable(length: Int) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(length + 8)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in [0, 1, 7] {
            let slice = bytes[start..<(start + length)]
            let fast = slice.withUnsafeBytes { CRC32C.checksum($0, continuing: 0x9E37_79B9) }
            let table = CRC32C.checksum(slice.lazy.map { $0 }, continuing: 0x9E37_79B9)
            #expect(fast == table, "length \(length) at offset \(start)")
        }
    }
}
