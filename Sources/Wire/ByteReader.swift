/// Reads little-endian integers and length-prefixed byte strings, checking every bound.
///
/// Every length or count is compared with the bytes that remain and with a caller-given
/// maximum *before* anything is allocated, so hostile input cannot make the reader allocate
/// more than it was given.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]
    private var index: Int
    private let end: Int

    /// Reads `bytes[range]` (all of `bytes` by default).
    public init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        let range = range ?? bytes.startIndex..<bytes.endIndex
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "range \(range) outside \(bytes.count) bytes")
        self.bytes = bytes
        self.index = range.lowerBound
        self.end = range.upperBound
    }

    /// Bytes not yet read.
    public var remaining: Int { end - index }

    public mutating func readU8() throws(WireError) -> UInt8 { try readInteger() }
    public mutating func readU16() throws(WireError) -> UInt16 { try readInteger() }
    public mutating func readU32() throws(WireError) -> UInt32 { try readInteger() }
    public mutating func readU64() throws(WireError) -> UInt64 { try readInteger() }

    /// Reads exactly `count` bytes.
    public mutating func readBytes(count: Int) throws(WireError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw WireError.truncated.with(detail: "wanted \(count) bytes, \(remaining) left")
        }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    /// Reads a one-byte length (at most `maxLength`), then that many bytes.
    public mutating func readU8LengthPrefixed(maxLength: Int) throws(WireError) -> [UInt8] {
        try readBytes(count: checkedLength(Int(try readU8()), max: maxLength))
    }

    /// Reads a two-byte length (at most `maxLength`), then that many bytes.
    public mutating func readU16LengthPrefixed(maxLength: Int) throws(WireError) -> [UInt8] {
        try readBytes(count: checkedLength(Int(try readU16()), max: maxLength))
    }

    /// Reads a four-byte length (at most `maxLength`), then that many bytes.
    public mutating func readU32LengthPrefixed(maxLength: Int) throws(WireError) -> [UInt8] {
        try readBytes(count: checkedLength(Int(try readU32()), max: maxLength))
    }

    /// Reads a two-byte element count, checked against `maxCount` and against the bytes left
    /// given that each element takes at least `minimumElementLength` bytes.
    public mutating func readU16Count(maxCount: Int, minimumElementLength: Int) throws(WireError) -> Int {
        let count = Int(try readU16())
        guard count <= maxCount else {
            throw WireError.oversized.with(detail: "count \(count) above maximum \(maxCount)")
        }
        guard count * minimumElementLength <= remaining else {
            throw WireError.truncated.with(detail: "count \(count) cannot fit in \(remaining) bytes")
        }
        return count
    }

    /// Throws unless every byte has been read: a message is exactly its payload.
    public func expectEnd() throws(WireError) {
        guard remaining == 0 else { throw WireError.trailingBytes.with(detail: "\(remaining) bytes left") }
    }

    private func checkedLength(_ length: Int, max: Int) throws(WireError) -> Int {
        guard length <= max else {
            throw WireError.oversized.with(detail: "length \(length) above maximum \(max)")
        }
        return length
    }

    private mutating func readInteger<T: FixedWidthInteger>() throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else {
            throw WireError.truncated.with(detail: "wanted \(size)-byte integer, \(remaining) left")
        }
        var value: T = 0
        for offset in 0..<size {
            value |= T(bytes[index + offset]) << (8 * offset)
        }
        index += size
        return value
    }

    /// Text that must be valid UTF-8; anything else is `invalidValue`.
    public func readUTF8(_ bytes: [UInt8]) throws(WireError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw WireError.invalidValue.with(detail: "text is not UTF-8")
        }
        return text
    }
}
