@testable import Node
import Testing

@Suite struct SecureRecordTests {
    let key = [UInt8](repeating: 7, count: 32)

    @Test func recordsRoundTripWhenFedByteByByte() throws {
        var sealer = RecordSealer(key: key)
        var opener = RecordOpener(key: key)
        let messages: [[UInt8]] = [[], [1, 2, 3], Array(repeating: 9, count: 1000)]
        let stream = try messages.flatMap { try sealer.seal($0) }
        var opened: [[UInt8]] = []
        for byte in stream {
            opener.feed([byte])
            while let plaintext = try opener.next() { opened.append(plaintext) }
        }
        #expect(opened == messages)
    }

    @Test func longPlaintextIsSplitIntoRecords() throws {
        var sealer = RecordSealer(key: key)
        var opener = RecordOpener(key: key)
        let long = (0..<(SecureRecord.maxPlaintextLength * 2 + 5)).map { UInt8(truncatingIfNeeded: $0) }
        opener.feed(try sealer.seal(long))
        var joined: [UInt8] = []
        var records = 0
        while let plaintext = try opener.next() {
            joined += plaintext
            records += 1
        }
        #expect(records == 3)
        #expect(joined == long)
    }

    @Test func anyFlippedBitFailsAuthentication() throws {
        var sealer = RecordSealer(key: key)
        let sealed = try sealer.seal(Array("hello".utf8))
        for index in SecureRecord.headerLength..<sealed.count {
            var tampered = sealed
            tampered[index] ^= 0x04
            var opener = RecordOpener(key: key)
            opener.feed(tampered)
            #expect(throws: SecureRecordError.authenticationFailed) { try opener.next() }
        }
    }

    @Test func replayedOrReorderedRecordsFail() throws {
        var sealer = RecordSealer(key: key)
        let first = try sealer.seal([1])
        let second = try sealer.seal([2])
        var opener = RecordOpener(key: key)
        opener.feed(second + first)
        #expect(throws: SecureRecordError.authenticationFailed) { try opener.next() }
        var replay = RecordOpener(key: key)
        replay.feed(first + first)
        #expect(try replay.next() == [1])
        #expect(throws: SecureRecordError.authenticationFailed) { try replay.next() }
    }

    @Test func wrongKeyAndBadLengthsFail() throws {
        var sealer = RecordSealer(key: key)
        var opener = RecordOpener(key: [UInt8](repeating: 8, count: 32))
        opener.feed(try sealer.seal([1, 2]))
        #expect(throws: SecureRecordError.authenticationFailed) { try opener.next() }
        var short = RecordOpener(key: key)
        short.feed([3, 0, 0, 0])
        #expect(throws: SecureRecordError.badLength(3)) { try short.next() }
        var long = RecordOpener(key: key)
        long.feed([0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: SecureRecordError.badLength(0x7FFF_FFFF)) { try long.next() }
    }
}
