import CohortBase

/// Bounds shared by the chunk payloads.
public enum ChunkLimits {
    /// Largest encoded chunk a peer may send: 64 MiB.
    public static let maxByteCount = 1 << 26
    /// Most chunks one part may have.
    public static let maxChunkIndex = Int(UInt32.max)
}

extension ByteWriter {
    /// The fields every chunk message starts with: round id u64 · part u16 · chunk u32.
    mutating func writeChunkPosition(roundID: UInt64, part: Int, chunk: Int) {
        write(roundID)
        write(UInt16(part))
        write(UInt32(chunk))
    }

    /// The bytes written so far, then `byteCount` as a u32 and the `byteCount` value bytes
    /// `writeValues` writes straight into the payload: one allocation, no intermediate copy.
    func payload(appendingValues byteCount: Int, _ writeValues: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        var header = self
        header.write(UInt32(byteCount))
        let headerBytes = header.bytes
        return [UInt8](unsafeUninitializedCapacity: headerBytes.count + byteCount) { buffer, initialized in
            let destination = UnsafeMutableRawBufferPointer(buffer)
            headerBytes.withUnsafeBytes { destination.copyMemory(from: $0) }
            writeValues(UnsafeMutableRawBufferPointer(rebasing: destination[headerBytes.count...]))
            initialized = buffer.count
        }
    }
}

extension ByteReader {
    /// The fields every chunk message starts with, each checked against its bounds.
    mutating func readChunkPosition() throws(PayloadDecodingError) -> (roundID: UInt64, part: Int, chunk: Int) {
        (try read(UInt64.self, "round id"),
         try read(UInt16.self, "part", in: 0...GroupPlan.maxMembers - 1),
         try read(UInt32.self, "chunk", in: 0...ChunkLimits.maxChunkIndex))
    }
}

/// One chunk of a member's values for a part, streamed to that part's owner
/// (butterfly all-reduce, first half: DeDLOC §3.1, hivemind's `averaging/allreduce.py`).
///
/// `bytes` is a slice of the received payload: decoding does not copy the chunk.
public struct PartChunk: Hashable, Sendable {
    /// The group plan's id.
    public var roundID: UInt64
    /// The step the plan averages: an owner that is past it answers at once that it is not in
    /// the round, instead of holding the chunk for a round it will never form.
    public var step: UInt64
    public var part: Int
    public var chunk: Int
    public var sender: PeerID
    public var compression: Compression
    public var bytes: ArraySlice<UInt8>

    public init(roundID: UInt64, step: UInt64, part: Int, chunk: Int, sender: PeerID, compression: Compression, bytes: ArraySlice<UInt8>) {
        self.roundID = roundID
        self.step = step
        self.part = part
        self.chunk = chunk
        self.sender = sender
        self.compression = compression
        self.bytes = bytes
    }

    public func encoded() -> [UInt8] {
        Self.payload(roundID: roundID, step: step, part: part, chunk: chunk, sender: sender, compression: compression,
                     byteCount: bytes.count) { destination in
            bytes.withUnsafeBytes { destination.copyMemory(from: $0) }
        }
    }

    /// The encoding of a chunk whose `byteCount` value bytes `writeValues` writes straight into
    /// the payload: one allocation and no intermediate copy of the values.
    public static func payload(roundID: UInt64, step: UInt64, part: Int, chunk: Int, sender: PeerID, compression: Compression,
                               byteCount: Int, writeValues: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.writeChunkPosition(roundID: roundID, part: part, chunk: chunk)
        writer.write(step)
        writer.write(sender)
        compression.write(to: &writer)
        return writer.payload(appendingValues: byteCount, writeValues)
    }

    public init(decoding payload: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(payload, what: "part chunk")
        let position = try reader.readChunkPosition()
        self.init(
            roundID: position.roundID, step: try reader.read(UInt64.self, "step"), part: position.part, chunk: position.chunk,
            sender: try reader.readPeer("sender"),
            compression: try Compression(reading: &reader),
            bytes: try reader.readLengthPrefixed("chunk bytes", maxBytes: ChunkLimits.maxByteCount))
        try reader.finish()
    }
}

/// One chunk of a part's average, sent by the part's owner to every member
/// (butterfly all-reduce, second half). The sender is the part's owner.
public struct AveragedChunk: Hashable, Sendable {
    public var roundID: UInt64
    public var part: Int
    public var chunk: Int
    public var compression: Compression
    public var bytes: ArraySlice<UInt8>

    public init(roundID: UInt64, part: Int, chunk: Int, compression: Compression, bytes: ArraySlice<UInt8>) {
        self.roundID = roundID
        self.part = part
        self.chunk = chunk
        self.compression = compression
        self.bytes = bytes
    }

    public func encoded() -> [UInt8] {
        Self.payload(roundID: roundID, part: part, chunk: chunk, compression: compression, byteCount: bytes.count) { destination in
            bytes.withUnsafeBytes { destination.copyMemory(from: $0) }
        }
    }

    /// The encoding of an averaged chunk whose `byteCount` value bytes `writeValues` writes
    /// straight into the payload.
    public static func payload(roundID: UInt64, part: Int, chunk: Int, compression: Compression,
                               byteCount: Int, writeValues: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        var writer = ByteWriter(capacity: 32)
        writer.writeChunkPosition(roundID: roundID, part: part, chunk: chunk)
        compression.write(to: &writer)
        return writer.payload(appendingValues: byteCount, writeValues)
    }

    public init(decoding payload: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(payload, what: "averaged chunk")
        let position = try reader.readChunkPosition()
        self.init(
            roundID: position.roundID, part: position.part, chunk: position.chunk,
            compression: try Compression(reading: &reader),
            bytes: try reader.readLengthPrefixed("chunk bytes", maxBytes: ChunkLimits.maxByteCount))
        try reader.finish()
    }
}

/// An owner's part of a round whose second stage failed (`AllReduceRound.Settings.averagesPartAcrossGroups`):
/// its members leave the part out at once, as the members of every other group of the step do.
/// The sender is the part's owner.
public struct PartSkipped: Hashable, Sendable {
    public var roundID: UInt64
    public var part: Int
    /// The grid parts left out (`LoadBalancing.gridParts`, as bits): all of the part's, or some.
    public var gridParts: UInt64

    public init(roundID: UInt64, part: Int, gridParts: UInt64) {
        self.roundID = roundID
        self.part = part
        self.gridParts = gridParts
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 18)
        writer.write(roundID)
        writer.write(UInt16(part))
        writer.write(gridParts)
        return writer.bytes
    }

    public init(decoding payload: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(payload, what: "skipped part")
        self.init(roundID: try reader.read(UInt64.self, "round id"),
                  part: try reader.read(UInt16.self, "part", in: 0...GroupPlan.maxMembers - 1),
                  gridParts: try reader.read(UInt64.self, "grid parts"))
        try reader.finish()
    }
}

/// A member leaves a round early and says why, so the others mark it failed at once instead of
/// waiting for the deadline.
public struct Abort: Hashable, Sendable {
    /// Longest reason carried, in UTF-8 bytes.
    public static let maxReasonBytes = 1024

    public var roundID: UInt64
    public var sender: PeerID
    /// One line a person can act on.
    public var reason: String

    public init(roundID: UInt64, sender: PeerID, reason: String) {
        self.roundID = roundID
        self.sender = sender
        self.reason = reason
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(roundID)
        writer.write(sender)
        var reason = self.reason
        while reason.utf8.count > Self.maxReasonBytes {
            reason.removeLast()
        }
        writer.write(reason)
        return writer.bytes
    }

    public init(decoding payload: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(payload, what: "abort")
        self.init(
            roundID: try reader.read(UInt64.self, "round id"),
            sender: try reader.readPeer("sender"),
            reason: try reader.readString("reason", maxBytes: Self.maxReasonBytes))
        try reader.finish()
    }
}
