/// Splits a byte stream into frames, in the manner of NIO's `ByteToMessageDecoder`.
///
/// Feed it bytes as they arrive and call `next()` until it answers `.needMoreData`. Each fed
/// byte is copied once, into its frame: the header into a 20-byte scratch, the payload straight
/// into the array the returned `Frame` owns. A producer that can write bytes itself (a record
/// layer decrypting) may skip even that copy: `writePayload(count:_:)` lends it the payload's
/// memory. The magic and version are checked as soon as those bytes are there, and the
/// announced payload length against `maxPayloadLength` before any of the payload is kept.
/// Once a malformed byte is seen, the decoder is poisoned: `next()` returns the frames
/// completed before it, then throws the same error on every call, because a stream that lost
/// framing cannot be resynchronised safely — close the connection.
public struct FrameDecoder: Sendable {
    /// What `next()` found.
    public enum Step: Hashable, Sendable {
        case frame(Frame)
        case needMoreData
    }

    private struct Announcement: Sendable {
        let type: MessageType
        let requestID: UInt64
        let length: Int
    }

    /// Largest payload accepted; longer announcements are `WireError.oversized`.
    public let maxPayloadLength: Int
    /// Whether the trailer must hold the CRC-32C of the frame; false inside an authenticated
    /// channel, whose records already prove every byte (docs/protocol.md, "Encrypted records").
    public let verifiesChecksums: Bool
    /// Payload memory allocated from a header alone; a longer payload grows as it arrives, so a
    /// peer announcing large frames it never sends cannot make this one hold their memory. It
    /// covers an averaging chunk of 2^20 float32 values with room to spare, so those never grow.
    private static let maxReservedPayload = 5 << 20

    private var header: [UInt8] = []
    private var announcement: Announcement?
    /// The frame's payload as allocated so far; only `payload[..<received]` holds received bytes.
    private var payload: [UInt8] = []
    private var received = 0
    private var trailer: [UInt8] = []
    private var completed: [Frame] = []
    private var nextCompleted = 0
    private var failure: WireError?

    public init(maxPayloadLength: Int = Frame.defaultMaxPayloadLength, verifiesChecksums: Bool = true) {
        precondition(maxPayloadLength >= 0 && maxPayloadLength <= Int(UInt32.max), "bad maximum \(maxPayloadLength)")
        self.maxPayloadLength = maxPayloadLength
        self.verifiesChecksums = verifiesChecksums
        header.reserveCapacity(Frame.headerLength)
        trailer.reserveCapacity(Frame.trailerLength)
    }

    /// Bytes received for the frame not yet complete.
    public var bufferedByteCount: Int { header.count + received + trailer.count }

    /// Takes received bytes.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { feed($0) }
    }

    /// Takes received bytes from memory.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var unread = bytes[...]
        while failure == nil && !unread.isEmpty {
            do {
                try consume(&unread)
            } catch {
                failure = error
            }
        }
    }

    /// The next complete frame, `.needMoreData`, or the error that poisoned the stream.
    public mutating func next() throws(WireError) -> Step {
        if nextCompleted < completed.count {
            let frame = completed[nextCompleted]
            nextCompleted += 1
            if nextCompleted == completed.count {
                completed.removeAll(keepingCapacity: true)
                nextCompleted = 0
            }
            return .frame(frame)
        }
        if let failure { throw failure }
        return .needMoreData
    }

    private mutating func consume(_ unread: inout Slice<UnsafeRawBufferPointer>) throws(WireError) {
        guard let announcement else {
            let checkedFrom = header.count
            header.append(contentsOf: take(Frame.headerLength - header.count, from: &unread))
            try checkHeader(from: checkedFrom)
            return
        }
        if received < announcement.length {
            let taken = take(announcement.length - received, from: &unread)
            _ = writePayload(taken.count) { destination in
                destination.copyMemory(from: taken)
                return true
            }
            return
        }
        trailer.append(contentsOf: take(Frame.trailerLength - trailer.count, from: &unread))
        if trailer.count == Frame.trailerLength {
            try finishFrame(announcement)
        }
    }

    private func take(_ wanted: Int, from unread: inout Slice<UnsafeRawBufferPointer>) -> UnsafeRawBufferPointer {
        let taken = unread.prefix(wanted)
        unread = unread.dropFirst(taken.count)
        return UnsafeRawBufferPointer(rebasing: taken)
    }

    /// Checks the header bytes from `index` on as they arrive; once all 20 are in, announces
    /// the frame.
    private mutating func checkHeader(from index: Int) throws(WireError) {
        for offset in min(index, Frame.magic.count)..<min(header.count, Frame.magic.count) where header[offset] != Frame.magic[offset] {
            throw WireError.wrongMagic
        }
        if header.count > 4 && header[4] != Frame.version {
            throw WireError.unsupportedVersion.with(detail: "version \(header[4])")
        }
        guard header.count == Frame.headerLength else { return }
        var reader = ByteReader(header, range: 5..<Frame.headerLength)
        let flags = try reader.readU8()
        let rawType = try reader.readU16()
        let requestID = try reader.readU64()
        let length = Int(try reader.readU32())
        guard flags == 0 else { throw WireError.unsupportedFlags.with(detail: "flags \(flags)") }
        guard let type = MessageType(rawValue: rawType) else {
            throw WireError.unknownMessageType.with(detail: "type 0x\(String(rawType, radix: 16))")
        }
        guard length <= maxPayloadLength else {
            throw WireError.oversized.with(detail: "payload \(length) above \(maxPayloadLength)")
        }
        announcement = Announcement(type: type, requestID: requestID, length: length)
        payload = Self.uninitialisedBytes(min(length, Self.maxReservedPayload))
        received = 0
    }

    /// How many of the next stream bytes belong to the payload of the frame being read: the
    /// most `writePayload(count:_:)` takes now (0 while a header or trailer is read).
    public var payloadBytesExpected: Int {
        guard failure == nil, let announcement else { return 0 }
        return announcement.length - received
    }

    /// Lets `fill` write the next `count` stream bytes, all of them payload
    /// (`count ≤ payloadBytesExpected`), straight into the payload's memory. They count as
    /// received only if `fill` returns true; otherwise the memory is left as unreceived.
    public mutating func writePayload(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Bool) -> Bool {
        precondition(count >= 0 && count <= payloadBytesExpected, "\(count) bytes are not all payload (\(payloadBytesExpected) expected)")
        return writePayload(count, fill)
    }

    private mutating func writePayload(_ count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Bool) -> Bool {
        if received + count > payload.count, let announcement {
            growPayload(toHold: received + count, of: announcement.length)
        }
        let start = received
        let filled = payload.withUnsafeMutableBytes { fill(UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + count)])) }
        if filled { received += count }
        return filled
    }

    /// At least doubles the payload's memory (up to the announced length), keeping what was received.
    private mutating func growPayload(toHold needed: Int, of length: Int) {
        var grown = Self.uninitialisedBytes(min(length, max(needed, 2 * payload.count)))
        let kept = received
        grown.withUnsafeMutableBytes { destination in
            payload.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: destination[..<kept]).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<kept]))
            }
        }
        payload = grown
    }

    /// A byte array of `count` whose contents are whatever the allocator handed out: the payload
    /// is written before anything reads it, and zeroing a megabyte per frame costs as much as
    /// receiving it.
    private static func uninitialisedBytes(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { _, initialised in initialised = count }
    }

    private mutating func finishFrame(_ announcement: Announcement) throws(WireError) {
        if verifiesChecksums {
            var reader = ByteReader(trailer, range: 0..<Frame.trailerLength)
            let expected = try reader.readU32()
            guard CRC32C.checksum(payload, continuing: CRC32C.checksum(header)) == expected else { throw WireError.badChecksum }
        }
        completed.append(Frame(type: announcement.type, requestID: announcement.requestID, payload: payload))
        payload = []
        received = 0
        header.removeAll(keepingCapacity: true)
        trailer.removeAll(keepingCapacity: true)
        self.announcement = nil
    }
}
