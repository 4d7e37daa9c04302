extension AllReduceRound {
    /// Encodes this member's values of a chunk to send into `bytes` (at least
    /// `settings.compression.encodedByteCount(elementCount: reference.elements.count)` long),
    /// straight from the vector; returns the bytes written.
    public func encodePartChunk(_ reference: ChunkReference, into bytes: UnsafeMutableRawBufferPointer) -> Int {
        settings.compression.encode(UnsafeBufferPointer(rebasing: vector[reference.elements]), into: bytes)
    }

    /// The payload for a `.sendPartChunk` action.
    public func partChunk(for reference: ChunkReference) -> PartChunk {
        let count = settings.compression.encodedByteCount(elementCount: reference.elements.count)
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = encodePartChunk(reference, into: UnsafeMutableRawBufferPointer(buffer))
        }
        return PartChunk(roundID: plan.id, step: plan.step, part: reference.part, chunk: reference.chunk,
                         sender: plan.members[ownIndex].peer, compression: settings.compression, bytes: bytes[...])
    }

    /// The encoded `PartChunk` for a `.sendPartChunk` action, with this member's values encoded
    /// from the vector straight into the payload.
    public func partChunkPayload(for reference: ChunkReference) -> [UInt8] {
        PartChunk.payload(roundID: plan.id, step: plan.step, part: reference.part, chunk: reference.chunk, sender: plan.members[ownIndex].peer,
                          compression: settings.compression,
                          byteCount: settings.compression.encodedByteCount(elementCount: reference.elements.count)) {
            _ = encodePartChunk(reference, into: $0)
        }
    }

    /// This member's values of a chunk to send, where they lie in the vector, when they travel
    /// as they are (no compression): a peer on this machine can copy them from there. Valid
    /// until the round is over; the chunk's average overwrites them only after its owner has
    /// answered, which it does after copying them.
    public func uncompressedPartChunkMemory(for reference: ChunkReference) -> UnsafeRawBufferPointer? {
        guard settings.compression == .none else { return nil }
        return UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: vector[reference.elements]))
    }

    /// The `averagePartLocal` payload for a `.sendPartChunk` action whose encoded values lie at
    /// `memory` in this process (written there with `encodePartChunk`).
    public func partChunkReferencePayload(for reference: ChunkReference, memory: MemoryReference) -> [UInt8] {
        PartChunkReference(roundID: plan.id, step: plan.step, part: reference.part, chunk: reference.chunk, sender: plan.members[ownIndex].peer,
                           compression: settings.compression, memory: memory).encoded()
    }

    /// The encoded `AveragedChunk` for a `.sendAveragedChunk` action, the averages copied once,
    /// from where this owner keeps them into the payload.
    public func averagedChunkPayload(for reference: ChunkReference) -> [UInt8] {
        withAveragedChunkBytes(for: reference) { bytes in
            AveragedChunk.payload(roundID: plan.id, part: reference.part, chunk: reference.chunk, compression: settings.compression,
                                  byteCount: bytes.count) { $0.copyMemory(from: bytes) }
        }
    }

    /// Calls `body` with a finalised average as it travels: this owner's values in the vector
    /// without compression, the encoded averages it keeps with.
    public func withAveragedChunkBytes<Result>(for reference: ChunkReference, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        guard let reducer, reference.part == ownIndex, reducer.isFinalised(reference.chunk) else {
            preconditionFailure("member \(ownIndex) holds no average of chunk \(reference.chunk) of part \(reference.part)")
        }
        guard settings.compression != .none else {
            return body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: vector[reference.elements])))
        }
        return reducer.encodedAverage(of: reference.chunk).withUnsafeBytes(body)
    }
}
