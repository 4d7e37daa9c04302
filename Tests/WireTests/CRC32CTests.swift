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
}
