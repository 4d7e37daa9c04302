import Collaboration
import Wire

/// `updatesRequest` payload: the chain of updates from the state `fromHash` of `fromStep` to
/// the state `toHash` of `toStep`.
public struct UpdatesRequest: Equatable, Sendable {
    public var fromStep: Int
    public var fromHash: [UInt8]
    public var toStep: Int
    public var toHash: [UInt8]

    var encoded: [UInt8] {
        var writer = ByteWriter(reservingCapacity: 80)
        writer.write(UInt64(fromStep))
        writer.write(raw: fromHash)
        writer.write(UInt64(toStep))
        writer.write(raw: toHash)
        return writer.bytes
    }

    public init(fromStep: Int, fromHash: [UInt8], toStep: Int, toHash: [UInt8]) {
        self.fromStep = fromStep
        self.fromHash = fromHash
        self.toStep = toStep
        self.toHash = toHash
    }

    init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        let fromStep = try reader.readU64(), fromHash = try reader.readBytes(count: StateManifest.digestBytes)
        let toStep = try reader.readU64(), toHash = try reader.readBytes(count: StateManifest.digestBytes)
        try reader.expectEnd()
        guard toStep <= UInt64(Int32.max), fromStep < toStep, toStep - fromStep <= UInt64(UpdateChain.maxLength) else {
            throw WireError.invalidValue.with(detail: "updates request out of range")
        }
        self.init(fromStep: Int(fromStep), fromHash: fromHash, toStep: Int(toStep), toHash: toHash)
    }
}

/// `updates` payload: the chain's headers, each with its skipped ranges.
enum UpdatesReply {
    static func encode(_ headers: [UpdateHeader]) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: 2 + headers.count * 84)
        writer.write(UInt16(headers.count))
        for header in headers {
            writer.write(UInt64(header.fromStep))
            writer.write(raw: header.hashBefore)
            writer.write(raw: header.hashAfter)
            writer.write(UInt64(header.elementCount))
            writer.write(UInt32(header.skipped.count))
            for range in header.skipped {
                writer.write(UInt64(range.lowerBound))
                writer.write(UInt64(range.count))
            }
        }
        return writer.bytes
    }

    /// The headers of a reply; throws unless it holds 1 to `UpdateChain.maxLength` of them,
    /// each with in-range step and element count and valid skipped ranges
    /// (`UpdateHeader.areValidSkipped`), and nothing after them.
    static func decode(_ payload: [UInt8]) throws(WireError) -> [UpdateHeader] {
        var reader = ByteReader(payload)
        let count = Int(try reader.readU16())
        guard count >= 1, count <= UpdateChain.maxLength else { throw WireError.invalidValue.with(detail: "\(count) updates in a chain") }
        var headers: [UpdateHeader] = []
        headers.reserveCapacity(count)
        for _ in 0..<count {
            let step = try reader.readU64(), before = try reader.readBytes(count: StateManifest.digestBytes)
            let after = try reader.readBytes(count: StateManifest.digestBytes), elements = try reader.readU64()
            let rangeCount = try reader.readU32()
            guard step < UInt64(Int32.max), elements >= 1, elements <= UInt64(UpdateHeader.maxElementCount),
                  rangeCount <= UInt32(UpdateHeader.maxSkippedRanges) else {
                throw WireError.invalidValue.with(detail: "update header out of range")
            }
            var skipped: [Range<Int>] = []
            for _ in 0..<rangeCount {
                let start = try reader.readU64(), length = try reader.readU64()
                guard start <= elements, length <= elements - start else {
                    throw WireError.invalidValue.with(detail: "skipped range beyond the update's \(elements) elements")
                }
                skipped.append(Int(start)..<Int(start + length))
            }
            guard UpdateHeader.areValidSkipped(skipped, elementCount: Int(elements)) else {
                throw WireError.invalidValue.with(detail: "skipped ranges empty, out of order or overlapping")
            }
            headers.append(UpdateHeader(fromStep: Int(step), hashBefore: before, hashAfter: after, elementCount: Int(elements),
                                        skipped: skipped))
        }
        try reader.expectEnd()
        return headers
    }
}

/// `updateChunkRequest` payload: elements `firstElement ..< firstElement + elementCount` of the
/// gradient of the update from the state `hashBefore` of `fromStep`.
struct UpdateChunkRequest: Equatable, Sendable {
    /// 8 MiB of float32 gradient at most, as a state chunk request.
    static let maxElements = StateRequest.maxLength / 4
    var fromStep: Int
    var hashBefore: [UInt8]
    var firstElement: Int
    var elementCount: Int

    var encoded: [UInt8] {
        var writer = ByteWriter(reservingCapacity: 52)
        writer.write(UInt64(fromStep))
        writer.write(raw: hashBefore)
        writer.write(UInt64(firstElement))
        writer.write(UInt32(elementCount))
        return writer.bytes
    }

    var elements: Range<Int> { firstElement..<(firstElement + elementCount) }

    init(fromStep: Int, hashBefore: [UInt8], firstElement: Int, elementCount: Int) {
        self.fromStep = fromStep
        self.hashBefore = hashBefore
        self.firstElement = firstElement
        self.elementCount = elementCount
    }

    init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        let step = try reader.readU64(), hash = try reader.readBytes(count: StateManifest.digestBytes)
        let first = try reader.readU64(), count = try reader.readU32()
        try reader.expectEnd()
        guard step < UInt64(Int32.max), first < UInt64(UpdateHeader.maxElementCount), count >= 1,
              count <= UInt32(Self.maxElements) else {
            throw WireError.invalidValue.with(detail: "update chunk request out of range")
        }
        self.init(fromStep: Int(step), hashBefore: hash, firstElement: Int(first), elementCount: Int(count))
    }
}

/// `updateChunk` payload: the update's step, the first element and the float32 values,
/// little-endian, four bytes each.
struct UpdateChunk: Sendable {
    var fromStep: Int
    var firstElement: Int
    var bytes: [UInt8]

    static func encode(fromStep: Int, firstElement: Int, values: ArraySlice<Float>) -> [UInt8] {
        var writer = ByteWriter(reservingCapacity: 20 + 4 * values.count)
        writer.write(UInt64(fromStep))
        writer.write(UInt64(firstElement))
        writer.write(UInt32(4 * values.count))
        values.withUnsafeBytes { writer.write(raw: $0) }
        return writer.bytes
    }

    init(decoding payload: [UInt8]) throws(WireError) {
        var reader = ByteReader(payload)
        let step = try reader.readU64(), first = try reader.readU64()
        let bytes = try reader.readU32LengthPrefixed(maxLength: 4 * UpdateChunkRequest.maxElements)
        try reader.expectEnd()
        guard step < UInt64(Int32.max), first < UInt64(UpdateHeader.maxElementCount), bytes.count % 4 == 0 else {
            throw WireError.invalidValue.with(detail: "update chunk out of range")
        }
        fromStep = Int(step)
        firstElement = Int(first)
        self.bytes = bytes
    }

    /// Copies the values into `destination`, which must hold exactly as many.
    func copyValues(into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count * 4 == bytes.count, "\(bytes.count) bytes of values for \(destination.count) elements")
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(destination).copyMemory(from: $0) }
    }
}
