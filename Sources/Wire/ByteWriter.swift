/// Appends little-endian integers and length-prefixed byte strings to a growing buffer.
///
/// The writer trusts its caller: a length that does not fit its prefix is a programming error
/// (values are validated where they are created), so it stops with a precondition.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: UInt16) { writeLittleEndian(value) }
    public mutating func write(_ value: UInt32) { writeLittleEndian(value) }
    public mutating func write(_ value: UInt64) { writeLittleEndian(value) }

    /// Appends `raw` as is, without a length.
    public mutating func write(raw: some Collection<UInt8>) { bytes.append(contentsOf: raw) }

    /// Appends a one-byte length, then the bytes.
    public mutating func writeWithU8Length(_ raw: some Collection<UInt8>) {
        precondition(raw.count <= Int(UInt8.max), "\(raw.count) bytes do not fit a u8 length")
        write(UInt8(raw.count))
        write(raw: raw)
    }

    /// Appends a two-byte length, then the bytes.
    public mutating func writeWithU16Length(_ raw: some Collection<UInt8>) {
        precondition(raw.count <= Int(UInt16.max), "\(raw.count) bytes do not fit a u16 length")
        write(UInt16(raw.count))
        write(raw: raw)
    }

    /// Appends a four-byte length, then the bytes.
    public mutating func writeWithU32Length(_ raw: some Collection<UInt8>) {
        precondition(raw.count <= Int(UInt32.max), "\(raw.count) bytes do not fit a u32 length")
        write(UInt32(raw.count))
        write(raw: raw)
    }

    private mutating func writeLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var remaining = value.littleEndian
        withUnsafeBytes(of: &remaining) { bytes.append(contentsOf: $0) }
    }
}
