import Collaboration
import Wire

/// `stateRequest` payload: a byte range of the state announced as `stateHash` at a step.
struct StateRequest: Equatable, Sendable {
    static let maxLength = 8 << 20
    var step: Int
    var stateHash: [UInt8]
    var offset: Int
    var length: Int

    var encoded: [UInt8] {
        var writer = ByteWriter(reservingCapacity: 52)
        writer.write(UInt64(step))
        writer.write(raw: stateHash)
        writer.write(UInt64(offset))
        writer.write(UInt32(length))
        return writer.bytes
    }

    init(step: Int, stateHash: [UInt8], offset: Int, length: Int) {
        self.step = step
        self.stateHash = stateHash
        self.offset = offset
        self.length = length
    }

    init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        let step = try reader.readU64(), hash = try reader.readBytes(count: StateManifest.digestBytes)
        let offset = try reader.readU64(), length = try reader.readU32()
        try reader.expectEnd()
        guard step <= UInt64(Int32.max), offset <= 1 << 40, length > 0, length <= UInt32(Self.maxLength) else {
            throw WireError.invalidValue.with(detail: "state request out of range")
        }
        self.init(step: Int(step), stateHash: hash, offset: Int(offset), length: Int(length))
    }
}

/// `stateChunk` payload: the step, the offset and the bytes.
struct StateChunk: Sendable {
    var step: Int
    var offset: Int
    var bytes: ArraySlice<UInt8>

    static func encode(step: Int, offset: Int, bytes: ArraySlice<UInt8>) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: 20 + bytes.count)
        writer.write(UInt64(step))
        writer.write(UInt64(offset))
        writer.writeWithU32Length(bytes)
        return writer.bytes
    }

    init(decoding payload: [UInt8]) throws(WireError) {
        var reader = ByteReader(payload)
        let step = try reader.readU64(), offset = try reader.readU64()
        let bytes = try reader.readU32LengthPrefixed(maxLength: StateRequest.maxLength)
        try reader.expectEnd()
        guard step <= UInt64(Int32.max), offset <= 1 << 40 else { throw WireError.invalidValue }
        self.step = Int(step)
        self.offset = Int(offset)
        self.bytes = bytes[...]
    }
}

/// `stateManifestRequest` payload: the step and hash of the state whose chunk digests are asked for.
struct StateManifestRequest: Equatable, Sendable {
    var step: Int
    var stateHash: [UInt8]

    var encoded: [UInt8] {
        var writer = ByteWriter(reservingCapacity: 40)
        writer.write(UInt64(step))
        writer.write(raw: stateHash)
        return writer.bytes
    }

    init(step: Int, stateHash: [UInt8]) {
        self.step = step
        self.stateHash = stateHash
    }

    init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        let step = try reader.readU64(), hash = try reader.readBytes(count: StateManifest.digestBytes)
        try reader.expectEnd()
        guard step <= UInt64(Int32.max) else { throw WireError.invalidValue.with(detail: "state manifest request out of range") }
        self.init(step: Int(step), stateHash: hash)
    }
}

/// `stateManifest` payload: the step and the chunk digests (`StateManifest.chunkDigests`).
struct StateManifestReply: Sendable {
    /// Digests of a state of up to 256 GiB; a downloader also checks the exact count.
    static let maxDigestBytes = 8 << 20
    var step: Int
    var chunkDigests: [UInt8]

    static func encode(step: Int, chunkDigests: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: 12 + chunkDigests.count)
        writer.write(UInt64(step))
        writer.writeWithU32Length(chunkDigests)
        return writer.bytes
    }

    init(decoding payload: [UInt8]) throws(WireError) {
        var reader = ByteReader(payload)
        let step = try reader.readU64()
        let digests = try reader.readU32LengthPrefixed(maxLength: Self.maxDigestBytes)
        try reader.expectEnd()
        guard step <= UInt64(Int32.max) else { throw WireError.invalidValue }
        self.step = Int(step)
        chunkDigests = digests
    }
}
