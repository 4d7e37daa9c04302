import Testing
import Wire

@Suite struct FrameDecoderTests {
    private func drain(_ decoder: inout FrameDecoder) throws -> [Frame] {
        var frames: [Frame] = []
        while case .frame(let frame) = try decoder.next() { frames.append(frame) }
        return frames
    }

    private var stream: [UInt8] { Samples.frames().flatMap { $0.encoded() } }

    @Test func headerIsTwentyBytesAndChecksumFollowsPayload() {
        let frame = Frame(type: .pong, requestID: 0x0102, payload: [])
        let bytes = frame.encoded()
        #expect(bytes.count == 24)
        #expect(Array(bytes[0..<8]) == [0x43, 0x48, 0x52, 0x54, 1, 0, 0x02, 0x01])
        #expect(Array(bytes[8..<10]) == [0x02, 0x01])
        #expect(CRC32C.checksum(bytes[0..<20]) == UInt32(bytes[20]) | UInt32(bytes[21]) << 8 | UInt32(bytes[22]) << 16 | UInt32(bytes[23]) << 24)
    }

    @Test func decodesAStreamFedAllAtOnce() throws {
        var decoder = FrameDecoder()
        decoder.feed(stream)
        #expect(try drain(&decoder) == Samples.frames())
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func decodesAStreamFedByteByByte() throws {
        var decoder = FrameDecoder()
        var frames: [Frame] = []
        for byte in stream {
            decoder.feed([byte])
            frames += try drain(&decoder)
        }
        #expect(frames == Samples.frames())
    }

    @Test func decodesAStreamFedFrameByFrame() throws {
        var decoder = FrameDecoder()
        for frame in Samples.frames() {
            decoder.feed(frame.encoded())
            #expect(try decoder.next() == .frame(frame))
            #expect(try decoder.next() == .needMoreData)
        }
    }

    @Test func decodesAStreamFedInUnevenChunks() throws {
        var decoder = FrameDecoder()
        var frames: [Frame] = []
        var offset = 0
        var chunk = 1
        let bytes = stream
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            decoder.feed(bytes[offset..<end])
            frames += try drain(&decoder)
            offset = end
            chunk = chunk * 3 % 97 + 1
        }
        #expect(frames == Samples.frames())
    }

    @Test func partialFrameWaitsForMoreData() throws {
        var decoder = FrameDecoder()
        let bytes = Samples.frames()[3].encoded()
        decoder.feed(bytes.dropLast())
        #expect(try decoder.next() == .needMoreData)
        #expect(decoder.bufferedByteCount == bytes.count - 1)
    }

    @Test func wrongMagicIsRefusedFromTheFirstByte() {
        var decoder = FrameDecoder()
        decoder.feed([0x47])
        #expect(throws: WireError.wrongMagic) { try decoder.next() }
    }

    @Test func wrongVersionIsRefused() {
        var bytes = Frame(type: .pong, requestID: 1, payload: []).encoded()
        bytes[4] = 2
        var decoder = FrameDecoder()
        decoder.feed(bytes[0..<5])
        #expect(throws: WireError.unsupportedVersion) { try decoder.next() }
    }

    @Test func unknownFlagsAreRefused() {
        var bytes = Frame(type: .pong, requestID: 1, payload: []).encoded()
        bytes[5] = 1
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        #expect(throws: WireError.unsupportedFlags) { try decoder.next() }
    }

    @Test(arguments: [UInt16(0x0000), 0x0109, 0x0209, 0xFFFF])
    func unknownTypeIsRefused(_ code: UInt16) {
        var bytes = Frame(type: .pong, requestID: 1, payload: []).encoded()
        bytes[6] = UInt8(code & 0xFF)
        bytes[7] = UInt8(code >> 8)
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        #expect(throws: WireError.unknownMessageType) { try decoder.next() }
    }

    @Test func oversizedLengthIsRefusedFromTheHeaderAlone() {
        var header = Frame(type: .store, requestID: 1, payload: []).encoded()
        header.replaceSubrange(16..<20, with: [0xFF, 0xFF, 0xFF, 0xFF])
        var decoder = FrameDecoder(maxPayloadLength: 1024)
        decoder.feed(header[0..<20])
        #expect(throws: WireError.oversized) { try decoder.next() }
    }

    @Test func payloadAtTheMaximumIsAccepted() throws {
        let frame = Frame(type: .error, requestID: 1, payload: [UInt8](repeating: 5, count: 1024))
        var decoder = FrameDecoder(maxPayloadLength: 1024)
        decoder.feed(frame.encoded())
        #expect(try decoder.next() == .frame(frame))
    }

    @Test func everyFlippedBitIsCaught() {
        let bytes = Frame(type: .findNode, requestID: 77, payload: [1, 2, 3, 4, 5]).encoded()
        for bit in 0..<(bytes.count * 8) {
            var corrupted = bytes
            corrupted[bit / 8] ^= 1 << UInt8(bit % 8)
            var decoder = FrameDecoder()
            decoder.feed(corrupted)
            do {
                let step = try decoder.next()
                // A flipped length bit may only make the frame look longer.
                #expect(step == .needMoreData, "bit \(bit) went unnoticed")
            } catch {}
        }
    }

    @Test func badChecksumIsRefused() {
        var bytes = Frame(type: .pong, requestID: 1, payload: [9]).encoded()
        bytes[bytes.count - 1] ^= 0xFF
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        #expect(throws: WireError.badChecksum) { try decoder.next() }
    }

    @Test func framesWithoutChecksumDecodeWhereChecksumsAreNotVerified() throws {
        let frames = Samples.frames()
        var bytes: [UInt8] = []
        for frame in frames {
            var encoded = [UInt8](repeating: 0xEE, count: frame.encodedLength)
            encoded.withUnsafeMutableBytes { frame.encode(into: $0, withChecksum: false) }
            #expect(encoded.suffix(Frame.trailerLength) == [0, 0, 0, 0])
            bytes += encoded
        }
        var decoder = FrameDecoder(verifiesChecksums: false)
        decoder.feed(bytes)
        #expect(try drain(&decoder) == frames)
        var verifying = FrameDecoder()
        verifying.feed(bytes)
        #expect(throws: WireError.badChecksum) { try drain(&verifying) }
    }

    /// A producer that writes payload bytes itself (a record layer decrypting) gets the
    /// payload's memory; a refused write leaves nothing received.
    @Test func payloadBytesCanBeWrittenStraightIntoTheFrame() throws {
        let frame = Frame(type: .averagePart, requestID: 5, payload: (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let bytes = frame.encoded()
        var decoder = FrameDecoder()
        #expect(decoder.payloadBytesExpected == 0)
        decoder.feed(bytes[..<Frame.headerLength])
        #expect(decoder.payloadBytesExpected == 10_000)
        let refused = decoder.writePayload(count: 100) { $0.initializeMemory(as: UInt8.self, repeating: 0xFF); return false }
        #expect(!refused)
        #expect(decoder.payloadBytesExpected == 10_000)
        var offset = Frame.headerLength
        for piece in [1, 4_095, 5_904] {
            let written = decoder.writePayload(count: piece) { destination in
                bytes[offset..<(offset + piece)].withUnsafeBytes { destination.copyMemory(from: $0) }
                return true
            }
            #expect(written)
            offset += piece
        }
        #expect(decoder.payloadBytesExpected == 0)
        #expect(try decoder.next() == .needMoreData)
        decoder.feed(bytes[offset...])
        #expect(try drain(&decoder) == [frame])
    }

    /// Payloads beyond what a header alone may allocate grow as they arrive, fed or written.
    @Test func payloadsLargerThanTheFirstAllocationGrowIntact() throws {
        let large = Frame(type: .stateChunk, requestID: 1, payload: (0..<(6 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 16) })
        let bytes = large.encoded() + large.encoded()
        var decoder = FrameDecoder(maxPayloadLength: 8 << 20)
        var offset = 0
        while offset < bytes.count {
            let expected = decoder.payloadBytesExpected
            if expected > 0 {
                let count = min(expected, 1 << 20)
                let start = offset
                _ = decoder.writePayload(count: count) { destination in
                    bytes[start..<(start + count)].withUnsafeBytes { destination.copyMemory(from: $0) }
                    return true
                }
                offset += count
            } else {
                let end = min(bytes.count, offset + 777_777)
                decoder.feed(bytes[offset..<end])
                offset = end
            }
        }
        #expect(try drain(&decoder) == [large, large])
    }

    @Test func framesBeforeAMalformedOneAreReturnedFirst() throws {
        var decoder = FrameDecoder()
        let good = Frame(type: .pong, requestID: 3, payload: [1])
        decoder.feed(good.encoded() + [0x00, 0x01])
        #expect(try decoder.next() == .frame(good))
        #expect(throws: WireError.wrongMagic) { try decoder.next() }
    }

    @Test func decoderStaysFailedAfterAnError() {
        var decoder = FrameDecoder()
        decoder.feed([0x00])
        #expect(throws: WireError.wrongMagic) { try decoder.next() }
        decoder.feed(Frame(type: .pong, requestID: 1, payload: []).encoded())
        #expect(throws: WireError.wrongMagic) { try decoder.next() }
    }

    @Test func errorsCarryADetailButCompareByKind() {
        #expect(WireError.oversized.with(detail: "x") == WireError.oversized)
        #expect(WireError.oversized != WireError.truncated)
        #expect(WireError.truncated.with(detail: "x").description.contains("x"))
    }
}
