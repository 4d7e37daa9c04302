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
