import Testing
import Wire

@Suite struct ByteReaderTests {
    @Test func integersAreLittleEndianAndRoundTrip() throws {
        var writer = ByteWriter()
        writer.write(UInt8(0xAB))
        writer.write(UInt16(0x1234))
        writer.write(UInt32(0xDEAD_BEEF))
        writer.write(UInt64(0x0102_0304_0506_0708))
        #expect(Array(writer.bytes[1...2]) == [0x34, 0x12])
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readU8() == 0xAB)
        #expect(try reader.readU16() == 0x1234)
        #expect(try reader.readU32() == 0xDEAD_BEEF)
        #expect(try reader.readU64() == 0x0102_0304_0506_0708)
        try reader.expectEnd()
    }

    @Test func shortIntegerIsTruncated() {
        var reader = ByteReader([1, 2, 3])
        #expect(throws: WireError.truncated) { try reader.readU32() }
    }

    @Test func lengthAboveMaximumIsOversizedBeforeReading() {
        var writer = ByteWriter()
        writer.write(UInt32(1_000_000_000))
        var reader = ByteReader(writer.bytes)
        #expect(throws: WireError.oversized) { try reader.readU32LengthPrefixed(maxLength: 1024) }
    }

    @Test func lengthBeyondRemainingBytesIsTruncated() {
        var reader = ByteReader([10, 1, 2])
        #expect(throws: WireError.truncated) { try reader.readU8LengthPrefixed(maxLength: 255) }
    }

    @Test func countIsCheckedAgainstRemainingBytes() {
        var writer = ByteWriter()
        writer.write(UInt16(50))
        writer.write(raw: [UInt8](repeating: 0, count: 99))
        var reader = ByteReader(writer.bytes)
        #expect(throws: WireError.truncated) { try reader.readU16Count(maxCount: 100, minimumElementLength: 2) }
        var bounded = ByteReader(writer.bytes)
        #expect(throws: WireError.oversized) { try bounded.readU16Count(maxCount: 10, minimumElementLength: 1) }
    }

    @Test func leftoverBytesAreReported() {
        var reader = ByteReader([1, 2])
        _ = try? reader.readU8()
        #expect(throws: WireError.trailingBytes) { try reader.expectEnd() }
    }

    @Test func readsOnlyItsRange() throws {
        var reader = ByteReader([9, 1, 0, 9], range: 1..<3)
        #expect(try reader.readU16() == 1)
        #expect(reader.remaining == 0)
    }
}
