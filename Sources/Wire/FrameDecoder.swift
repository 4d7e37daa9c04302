/// Splits a byte stream into frames, in the manner of NIO's `ByteToMessageDecoder`.
///
/// Feed it bytes as they arrive and call `next()` until it answers `.needMoreData`. It never
/// consumes a partial frame, checks the magic and version as soon as those bytes are there,
/// and checks the announced payload length against `maxPayloadLength` before it waits for (or
/// copies) the payload. Once it has thrown, it is poisoned: every later call throws the same
/// error, because a stream that lost framing cannot be resynchronised safely — close the
/// connection.
public struct FrameDecoder: Sendable {
    /// What `next()` found.
    public enum Step: Hashable, Sendable {
        case frame(Frame)
        case needMoreData
    }

    /// Largest payload accepted; longer announcements are `WireError.oversized`.
    public let maxPayloadLength: Int
    private var received = ReceiveBuffer()
    private var failure: WireError?

    public init(maxPayloadLength: Int = Frame.defaultMaxPayloadLength) {
        precondition(maxPayloadLength >= 0 && maxPayloadLength <= Int(UInt32.max), "bad maximum \(maxPayloadLength)")
        self.maxPayloadLength = maxPayloadLength
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { received.unreadCount }

    /// Appends received bytes.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        received.append(bytes)
    }

    /// Appends received bytes from memory (one copy, no per-byte iteration).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        received.append(bytes)
    }

    /// The next complete frame, `.needMoreData`, or an error for malformed input.
    public mutating func next() throws(WireError) -> Step {
        if let failure { throw failure }
        do {
            return try decodeFrame()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func decodeFrame() throws(WireError) -> Step {
        let available = bufferedByteCount
        let magicBytes = min(available, Frame.magic.count)
        for offset in 0..<magicBytes where received.bytes[received.readIndex + offset] != Frame.magic[offset] {
            throw WireError.wrongMagic
        }
        if available > 4 && received.bytes[received.readIndex + 4] != Frame.version {
            throw WireError.unsupportedVersion.with(detail: "version \(received.bytes[received.readIndex + 4])")
        }
        guard available >= Frame.headerLength else { return .needMoreData }
        var header = ByteReader(received.bytes, range: received.readIndex + 5..<received.readIndex + Frame.headerLength)
        let flags = try header.readU8()
        let rawType = try header.readU16()
        let requestID = try header.readU64()
        let length = Int(try header.readU32())
        guard flags == 0 else { throw WireError.unsupportedFlags.with(detail: "flags \(flags)") }
        guard let type = MessageType(rawValue: rawType) else {
            throw WireError.unknownMessageType.with(detail: "type 0x\(String(rawType, radix: 16))")
        }
        guard length <= maxPayloadLength else {
            throw WireError.oversized.with(detail: "payload \(length) above \(maxPayloadLength)")
        }
        let frameLength = Frame.headerLength + length + Frame.trailerLength
        guard available >= frameLength else { return .needMoreData }
        return .frame(try takeFrame(type: type, requestID: requestID, length: length))
    }

    private mutating func takeFrame(type: MessageType, requestID: UInt64, length: Int) throws(WireError) -> Frame {
        let checkedEnd = received.readIndex + Frame.headerLength + length
        var trailer = ByteReader(received.bytes, range: checkedEnd..<checkedEnd + Frame.trailerLength)
        let expected = try trailer.readU32()
        guard CRC32C.checksum(received.bytes[received.readIndex..<checkedEnd]) == expected else { throw WireError.badChecksum }
        let payload = Array(received.bytes[received.readIndex + Frame.headerLength..<checkedEnd])
        received.readIndex = checkedEnd + Frame.trailerLength
        return Frame(type: type, requestID: requestID, payload: payload)
    }
}
