import CohortBase

/// Where a chunk's encoded bytes lie in the sending process's memory, for a peer on the same
/// machine to copy out itself instead of receiving them through the socket
/// (docs/protocol.md, "Same-host copies").
///
/// `lease` is the address of 16 bytes in the same process: the round id and 1 while `address`
/// holds the chunk, anything else once the sender has let the memory go. The reader copies the
/// chunk, then the lease, and keeps the chunk only if the lease still holds.
public struct MemoryReference: Hashable, Sendable {
    public var address: UInt64
    public var byteCount: Int
    public var lease: UInt64

    public init(address: UInt64, byteCount: Int, lease: UInt64) {
        self.address = address
        self.byteCount = byteCount
        self.lease = lease
    }

    fileprivate func write(to writer: inout ByteWriter) {
        writer.write(address)
        writer.write(UInt32(byteCount))
        writer.write(lease)
    }

    fileprivate init(reading reader: inout ByteReader) throws(PayloadDecodingError) {
        self.init(address: try reader.read(UInt64.self, "address"),
                  byteCount: try reader.read(UInt32.self, "byte count", in: 0...ChunkLimits.maxByteCount),
                  lease: try reader.read(UInt64.self, "lease"))
    }
}

/// A `PartChunk` whose bytes the owner copies out of the sender's memory (`averagePartLocal`).
public struct PartChunkReference: Hashable, Sendable {
    public var roundID: UInt64
    public var step: UInt64
    public var part: Int
    public var chunk: Int
    public var sender: PeerID
    public var compression: Compression
    public var memory: MemoryReference

    public init(roundID: UInt64, step: UInt64, part: Int, chunk: Int, sender: PeerID, compression: Compression, memory: MemoryReference) {
        self.roundID = roundID
        self.step = step
        self.part = part
        self.chunk = chunk
        self.sender = sender
        self.compression = compression
        self.memory = memory
    }

    /// The chunk these bytes, once copied, make.
    public func chunk(bytes: ArraySlice<UInt8>) -> PartChunk {
        PartChunk(roundID: roundID, step: step, part: part, chunk: chunk, sender: sender, compression: compression, bytes: bytes)
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.writeChunkPosition(roundID: roundID, part: part, chunk: chunk)
        writer.write(step)
        writer.write(sender)
        compression.write(to: &writer)
        memory.write(to: &writer)
        return writer.bytes
    }

    public init(decoding payload: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(payload, what: "part chunk reference")
        let position = try reader.readChunkPosition()
        self.init(
            roundID: position.roundID, step: try reader.read(UInt64.self, "step"), part: position.part, chunk: position.chunk,
            sender: try reader.readPeer("sender"),
            compression: try Compression(reading: &reader),
            memory: try MemoryReference(reading: &reader))
        try reader.finish()
    }
}

/// An `AveragedChunk` whose bytes the member copies out of the owner's memory
/// (`averagedPartLocal`, the answer to `averagePartLocal`).
public struct AveragedChunkReference: Hashable, Sendable {
    public var roundID: UInt64
    public var part: Int
    public var chunk: Int
    public var compression: Compression
    public var memory: MemoryReference

    public init(roundID: UInt64, part: Int, chunk: Int, compression: Compression, memory: MemoryReference) {
        self.roundID = roundID
        self.part = part
        self.chunk = chunk
        self.compression = compression
        self.memory = memory
    }

    /// The averaged chunk these bytes, once copied, make.
    public func chunk(bytes: ArraySlice<UInt8>) -> AveragedChunk {
        AveragedChunk(roundID: roundID, part: part, chunk: chunk, compression: compression, bytes: bytes)
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.writeChunkPosition(roundID: roundID, part: part, chunk: chunk)
        compression.write(to: &writer)
        memory.write(to: &writer)
        return writer.bytes
    }

    public init(decoding payload: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(payload, what: "averaged chunk reference")
        let position = try reader.readChunkPosition()
        self.init(
            roundID: position.roundID, part: position.part, chunk: position.chunk,
            compression: try Compression(reading: &reader),
            memory: try MemoryReference(reading: &reader))
        try reader.finish()
    }
}
