import Wire

/// `stateRequest` payload: a byte range of the state at a step.
struct StateRequest: Equatable, Sendable {
    static let maxLength = 8 << 20
    var step: Int
    var offset: Int
    var length: Int

    var encoded: [UInt8] {
        var writer = ByteWriter(reservingCapacity: 20)
        writer.write(UInt64(step))
        writer.write(UInt64(offset))
        writer.write(UInt32(length))
        return writer.bytes
    }

    init(step: Int, offset: Int, length: Int) {
        self.step = step
        self.offset = offset
        self.length = length
    }

    init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        let step = try reader.readU64(), offset = try reader.readU64(), length = try reader.readU32()
        try reader.expectEnd()
        guard step <= UInt64(Int32.max), offset <= 1 << 40, length > 0, length <= UInt32(Self.maxLength) else {
            throw WireError.invalidValue.with(detail: "state request out of range")
        }
        self.init(step: Int(step), offset: Int(offset), length: Int(length))
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
