import Crypto
import Foundation
import NIOCore
@testable import Node
import Wire
import Testing

@Suite struct SecureRecordTests {
    let key = [UInt8](repeating: 7, count: 32)

    /// The plaintext `bytes` complete, opened in one call.
    private func open(_ opener: inout RecordOpener, _ bytes: [UInt8]) throws -> [UInt8] {
        var output = ByteBuffer()
        var failure: SecureRecordError?
        bytes.withUnsafeBytes { bytes in
            do throws(SecureRecordError) { try opener.open(bytes, into: &output) } catch { failure = error }
        }
        if let failure { throw failure }
        return Array(output.readableBytesView)
    }

    @Test func recordsRoundTripWhenFedByteByByte() throws {
        var sealer = RecordSealer(key: key)
        var opener = RecordOpener(key: key)
        let messages: [[UInt8]] = [[], [1, 2, 3], Array(repeating: 9, count: 1000)]
        let stream = try messages.flatMap { try sealer.seal($0) }
        var opened: [UInt8] = []
        for byte in stream {
            opened += try open(&opener, [byte])
        }
        #expect(opened == messages.flatMap { $0 })
        #expect(opener.bufferedByteCount == 0)
    }

    @Test(arguments: [1, 3, 4, 5, 1_000, 70_000, 200_000])
    func recordsRoundTripWhenReadsCutThemAnywhere(readSize: Int) throws {
        var sealer = RecordSealer(key: key)
        var opener = RecordOpener(key: key)
        let long = (0..<(SecureRecord.maxPlaintextLength * 2 + 5)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let stream = try sealer.seal(long) + sealer.seal([42]) + sealer.seal(long)
        var opened: [UInt8] = []
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + readSize)
            opened += try open(&opener, Array(stream[offset..<end]))
            offset = end
        }
        #expect(opened == long + [42] + long)
    }

    /// A frame sealed in place opens to its wire bytes with a zero checksum, whatever its size
    /// (one scratch record, or header record + in-place records + trailer record).
    @Test(arguments: [0, 100, 2 * RecordSealer.frameEdgeLength, 2 * RecordSealer.frameEdgeLength + 1, 65_536, 300_001])
    func framesAreSealedAsTheirWireBytesWithoutChecksum(payloadLength: Int) throws {
        var sealer = RecordSealer(key: key)
        var opener = RecordOpener(key: key)
        let frame = Frame(type: .averagePart, requestID: 9, payload: (0..<payloadLength).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var sealed = ByteBuffer()
        try sealer.seal(frame, into: &sealed)
        #expect(sealed.readableBytes <= RecordSealer.sealedCapacity(of: frame))
        var expected = [UInt8](repeating: 0, count: frame.encodedLength)
        expected.withUnsafeMutableBytes { frame.encode(into: $0, withChecksum: false) }
        #expect(try open(&opener, Array(sealed.readableBytesView)) == expected)
    }

    @Test func longPlaintextIsSplitIntoRecords() throws {
        var sealer = RecordSealer(key: key)
        let long = (0..<(SecureRecord.maxPlaintextLength * 2 + 5)).map { UInt8(truncatingIfNeeded: $0) }
        let sealed = try sealer.seal(long)
        #expect(sealed.count == long.count + 3 * (SecureRecord.headerLength + SecureRecord.tagLength))
        var opener = RecordOpener(key: key)
        #expect(try open(&opener, sealed) == long)
    }

    /// Our records are AES-256-GCM as swift-crypto computes it: nonce = 4 zero bytes ‖ LE u64
    /// sequence, the length header as associated data.
    @Test func recordsAreTheOnesSwiftCryptoSeals() throws {
        var sealer = RecordSealer(key: key)
        let messages: [[UInt8]] = [Array("first".utf8), [], Array(repeating: 0xA5, count: 3000)]
        for (sequence, message) in messages.enumerated() {
            let sealed = try sealer.seal(message)
            let header = Array(sealed.prefix(SecureRecord.headerLength))
            let nonce = try AES.GCM.Nonce(data: [0, 0, 0, 0, UInt8(sequence), 0, 0, 0, 0, 0, 0, 0])
            let expected = try AES.GCM.seal(message, using: SymmetricKey(data: key), nonce: nonce, authenticating: header)
            #expect(header == [UInt8](withUnsafeBytes(of: UInt32(message.count + 16).littleEndian) { Array($0) }))
            #expect(Array(sealed.dropFirst(SecureRecord.headerLength)) == Array(expected.ciphertext) + Array(expected.tag))
        }
    }

    @Test func anyFlippedBitFailsAuthentication() throws {
        var sealer = RecordSealer(key: key)
        let sealed = try sealer.seal(Array("hello".utf8))
        for index in SecureRecord.headerLength..<sealed.count {
            var tampered = sealed
            tampered[index] ^= 0x04
            var opener = RecordOpener(key: key)
            #expect(throws: SecureRecordError.authenticationFailed) { try open(&opener, tampered) }
        }
    }

    @Test func replayedOrReorderedRecordsFail() throws {
        var sealer = RecordSealer(key: key)
        let first = try sealer.seal([1])
        let second = try sealer.seal([2])
        var opener = RecordOpener(key: key)
        #expect(throws: SecureRecordError.authenticationFailed) { try open(&opener, second + first) }
        var replay = RecordOpener(key: key)
        #expect(try open(&replay, first) == [1])
        #expect(throws: SecureRecordError.authenticationFailed) { try open(&replay, first) }
    }

    @Test func wrongKeyAndBadLengthsFail() throws {
        var sealer = RecordSealer(key: key)
        var opener = RecordOpener(key: [UInt8](repeating: 8, count: 32))
        #expect(throws: SecureRecordError.authenticationFailed) { try open(&opener, try sealer.seal([1, 2])) }
        var short = RecordOpener(key: key)
        #expect(throws: SecureRecordError.badLength(3)) { try open(&short, [3, 0, 0, 0]) }
        var long = RecordOpener(key: key)
        #expect(throws: SecureRecordError.badLength(0x7FFF_FFFF)) { try open(&long, [0xFF, 0xFF, 0xFF, 0x7F]) }
        var cut = RecordOpener(key: key)
        #expect(try open(&cut, [0xFF, 0xFF]) == [])
        #expect(throws: SecureRecordError.badLength(0xFFFF_FFFF)) { try open(&cut, [0xFF, 0xFF]) }
    }
}
