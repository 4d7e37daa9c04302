import NIOCore
@testable import Node
import Testing
import Wire

/// What the secure channel does with the bytes an authenticated peer sends: records cut into
/// reads anywhere, records that do not open, and frames that break framing inside authentic
/// records. Each hostile input has its exact outcome: what is delivered, whether the channel
/// is closed, and what goes up the pipeline.
@Suite struct SecureChannelHandlerReadTests {
    static let small = [
        Frame(type: .ping, requestID: 1, payload: []),
        Frame(type: .pong, requestID: 2, payload: [1, 2, 3]),
        Frame(type: .store, requestID: 3, payload: (0..<40).map { UInt8($0) }),
    ]
    /// Sealed as three records: its header with the first edge of the payload, the middle read
    /// in place, and the last edge with the trailer.
    static let large = Frame(type: .stateChunk, requestID: 4, payload: (0..<(2 * RecordSealer.frameEdgeLength + 1)).map { UInt8($0 % 251) })
    static let all = small + [large]

    func established(maxPayloadLength: Int = 4096) throws -> EmbeddedSecureChannel {
        let harness = try EmbeddedSecureChannel(maxPayloadLength: maxPayloadLength)
        try harness.establish()
        return harness
    }

    @Test func recordsAllInOneReadAndByteByByteDeliverTheSameFrames() throws {
        let harness = try established(maxPayloadLength: 16_384)
        try harness.send(try harness.sealed(Self.all))
        #expect(harness.recorder.frames == Self.all)
        for byte in try harness.sealed(Self.all) { try harness.send([byte]) }
        #expect(harness.recorder.frames == Self.all + Self.all)
        #expect(harness.recorder.errors.isEmpty)
        #expect(harness.channel.isActive)
    }

    /// The stream cut in two at every offset inside the small frames' records (header, body and
    /// tag bytes alike) and around every record boundary of the large frame.
    @Test func framesArriveWhereverOneCutSplitsTheRecords() throws {
        let harness = try established(maxPayloadLength: 16_384)
        // Every sealing of the frames has the same record lengths, so one stream tells the cuts.
        let stream = try harness.sealed(Self.all)
        try harness.send(stream)
        let starts = EmbeddedSecureChannel.recordStarts(of: stream)
        let smallEnd = starts[Self.small.count]
        let boundaries = Array(starts.dropFirst(Self.small.count)) + [stream.count]
        let nearBoundaries = boundaries.flatMap { boundary in (boundary - 20)...min(boundary + 20, stream.count) }
        var wrongCuts: [Int] = []
        for cut in Array(0...smallEnd) + nearBoundaries {
            let before = harness.recorder.frames.count
            let records = try harness.sealed(Self.all)
            try harness.send(Array(records[..<cut]))
            try harness.send(Array(records[cut...]))
            if Array(harness.recorder.frames[before...]) != Self.all { wrongCuts.append(cut) }
        }
        #expect(wrongCuts.isEmpty, "frames lost or changed when the stream was cut at \(wrongCuts)")
        #expect(harness.recorder.errors.isEmpty)
        #expect(harness.channel.isActive)
    }

    @Test func aTruncatedRecordDeliversNothingUntilItsLastByteArrives() throws {
        let harness = try established()
        let record = try harness.sealed([Self.small[1]])
        try harness.send(Array(record.dropLast()))
        #expect(harness.recorder.frames.isEmpty)
        #expect(harness.channel.isActive)
        try harness.send([record.last!])
        #expect(harness.recorder.frames == [Self.small[1]])
    }

    /// Records carrying no plaintext (sealed length 16) are valid: between frames and in the
    /// middle of a payload they change nothing.
    @Test func emptyRecordsBetweenFramesAndInsideAPayloadAreHarmless() throws {
        let harness = try established()
        let frame = Self.small[2].encodedWithoutChecksum
        var stream = try harness.sealed(plaintext: [])
        stream += try harness.sealed(plaintext: Array(frame[..<(Frame.headerLength + 5)]))
        stream += try harness.sealed(plaintext: [])
        stream += try harness.sealed(plaintext: Array(frame[(Frame.headerLength + 5)...]))
        stream += try harness.sealed(plaintext: [])
        try harness.send(stream)
        #expect(harness.recorder.frames == [Self.small[2]])
        #expect(harness.channel.isActive)
    }

    /// Which bytes of a record an attacker on the path flips.
    enum Tampering: CaseIterable {
        case shorterLength, firstCiphertextByte, lastCiphertextByte, firstTagByte, lastTagByte

        func apply(to record: inout [UInt8]) {
            switch self {
            case .shorterLength: record[0] -= 1
            case .firstCiphertextByte: record[4] ^= 0x01
            case .lastCiphertextByte: record[record.count - 17] ^= 0x80
            case .firstTagByte: record[record.count - 16] ^= 0x01
            case .lastTagByte: record[record.count - 1] ^= 0x01
            }
        }
    }

    /// Frames of earlier reads are delivered; nothing from the bad record on is, the channel
    /// closes, nothing is written back, and no `ProtocolViolation` blames the authenticated peer
    /// (anyone on the path could have flipped the bytes).
    @Test(arguments: Tampering.allCases)
    func aRecordThatDoesNotAuthenticateClosesTheChannel(_ tampering: Tampering) throws {
        let harness = try established()
        let frames = Self.small + [Frame(type: .findNode, requestID: 5, payload: [9])]
        try harness.send(try harness.sealed([frames[0]]))
        let second = try harness.sealed([frames[1]])
        var third = try harness.sealed([frames[2]])
        tampering.apply(to: &third)
        let fourth = try harness.sealed([frames[3]])
        try harness.send(second + third + fourth)
        #expect(harness.recorder.frames.starts(with: [frames[0]]))
        #expect(!harness.recorder.frames.contains(frames[2]) && !harness.recorder.frames.contains(frames[3]))
        #expect(!harness.channel.isActive)
        #expect(harness.recorder.errors.isEmpty)
        #expect(harness.written().isEmpty)
    }

    @Test func aReplayedRecordClosesTheChannel() throws {
        let harness = try established()
        let record = try harness.sealed([Self.small[0]])
        try harness.send(record)
        try harness.send(record)
        #expect(harness.recorder.frames == [Self.small[0]])
        #expect(!harness.channel.isActive)
    }

    @Test func recordsOutOfOrderCloseTheChannelAndDeliverNothing() throws {
        let harness = try established()
        let first = try harness.sealed([Self.small[0]])
        let second = try harness.sealed([Self.small[1]])
        try harness.send(second + first)
        #expect(harness.recorder.frames.isEmpty)
        #expect(!harness.channel.isActive)
    }

    /// A record header announcing a sealed length below the tag or above the largest record
    /// closes the channel as soon as its fourth byte arrives, before any body is awaited.
    @Test(arguments: [0, 1, 15, SecureRecord.maxPlaintextLength + 17, Int(UInt32.max)])
    func aRecordLengthOutOfBoundsClosesAtItsLastHeaderByte(_ sealedLength: Int) throws {
        let harness = try established()
        let header = withUnsafeBytes(of: UInt32(sealedLength).littleEndian) { Array($0) }
        for byte in header.dropLast() { try harness.send([byte]) }
        #expect(harness.channel.isActive)
        try harness.send([header.last!])
        #expect(!harness.channel.isActive)
        #expect(harness.recorder.errors.isEmpty)
    }

    @Test(arguments: [16, SecureRecord.maxPlaintextLength + 16])
    func aRecordLengthWithinBoundsWaitsForItsBody(_ sealedLength: Int) throws {
        let harness = try established()
        try harness.send(withUnsafeBytes(of: UInt32(sealedLength).littleEndian) { Array($0) })
        #expect(harness.channel.isActive)
    }

    /// How a frame inside authentic records breaks framing.
    enum BrokenFrame: CaseIterable {
        case wrongMagic, unsupportedVersion, unsupportedFlags, unknownType, payloadAboveTheLimit

        func bytes(maxPayloadLength: Int) -> [UInt8] {
            var bytes = Frame(type: .findValue, requestID: 9, payload: [1, 2]).encodedWithoutChecksum
            switch self {
            case .wrongMagic: bytes[0] = 0x47
            case .unsupportedVersion: bytes[4] = Frame.version + 1
            case .unsupportedFlags: bytes[5] = 1
            case .unknownType: bytes.replaceSubrange(6..<8, with: [0xFF, 0xFF])
            case .payloadAboveTheLimit:
                bytes = Array(bytes[..<16]) + withUnsafeBytes(of: UInt32(maxPayloadLength + 1).littleEndian) { Array($0) }
            }
            return bytes
        }
    }

    /// Frames completed before the broken one are delivered, then one `ProtocolViolation` (the
    /// peer sealed the bytes, so it is to blame), the channel closes, and nothing after it is read.
    @Test(arguments: BrokenFrame.allCases)
    func aFrameThatBreaksFramingClosesTheChannelAndBlamesThePeer(_ broken: BrokenFrame) throws {
        let harness = try established()
        let before = try harness.sealed([Self.small[0]])
        let bad = try harness.sealed(plaintext: broken.bytes(maxPayloadLength: 4096))
        let after = try harness.sealed([Self.small[1]])
        try harness.send(before + bad + after)
        #expect(harness.recorder.frames == [Self.small[0]])
        #expect(harness.recorder.errors.count == 1)
        #expect(harness.recorder.errors.first is ProtocolViolation)
        #expect(!harness.channel.isActive)
        #expect(harness.written().isEmpty)
    }

    @Test func aPayloadOfExactlyTheLimitIsDelivered() throws {
        let harness = try established(maxPayloadLength: 4096)
        let largest = Frame(type: .stateChunk, requestID: 1, payload: [UInt8](repeating: 5, count: 4096))
        try harness.send(try harness.sealed([largest]))
        #expect(harness.recorder.frames == [largest])
        #expect(harness.channel.isActive)
    }

    @Test func bytesAfterTheCloseAreIgnored() throws {
        let harness = try established()
        try harness.send(try harness.sealed(plaintext: BrokenFrame.wrongMagic.bytes(maxPayloadLength: 4096)))
        try harness.send(try harness.sealed([Self.small[0]]))
        #expect(harness.recorder.frames.isEmpty)
        #expect(harness.recorder.errors.count == 1)
    }
}

extension Frame {
    /// The frame's wire bytes with the checksum left zero, as inside records.
    var encodedWithoutChecksum: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: encodedLength)
        bytes.withUnsafeMutableBytes { encode(into: $0, withChecksum: false) }
        return bytes
    }
}
