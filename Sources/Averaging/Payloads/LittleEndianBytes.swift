import CohortBase

/// Appends little-endian fields to a byte array.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    mutating func write<Integer: FixedWidthInteger & UnsignedInteger>(_ value: Integer) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ flag: Bool) {
        write(UInt8(flag ? 1 : 0))
    }

    mutating func write(_ peer: PeerID) {
        bytes.append(contentsOf: peer.bytes)
    }

    /// A UInt16 byte count, then the UTF-8 bytes.
    mutating func write(_ string: String) {
        let utf8 = Array(string.utf8)
        precondition(utf8.count <= UInt16.max, "string of \(utf8.count) bytes is too long for a payload")
        write(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A UInt32 byte count, then the bytes.
    mutating func write(lengthPrefixed data: some Collection<UInt8>) {
        write(UInt32(data.count))
        bytes.append(contentsOf: data)
    }
}

/// Reads little-endian fields from a byte slice, checking every length before using it.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int
    private let what: String

    /// `what` names the payload in error messages ("group plan").
    init(_ bytes: ArraySlice<UInt8>, what: String) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.what = what
    }

    private mutating func take(_ count: Int, for field: String) throws(PayloadDecodingError) -> ArraySlice<UInt8> {
        guard count <= bytes.endIndex - position else {
            throw PayloadDecodingError(.truncated, "\(what): \(field) needs \(count) bytes, \(bytes.endIndex - position) left")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func read<Integer: FixedWidthInteger & UnsignedInteger>(_: Integer.Type, _ field: String) throws(PayloadDecodingError) -> Integer {
        let slice = try take(MemoryLayout<Integer>.size, for: field)
        return slice.reversed().reduce(Integer.zero) { $0 << 8 | Integer($1) }
    }

    /// An unsigned field that must lie in `range`, as an Int.
    mutating func read<Integer: FixedWidthInteger & UnsignedInteger>(
        _ type: Integer.Type, _ field: String, in range: ClosedRange<Int>
    ) throws(PayloadDecodingError) -> Int {
        let value = try read(type, field)
        guard value <= UInt64(range.upperBound), Int(value) >= range.lowerBound else {
            throw PayloadDecodingError(.outOfRange, "\(what): \(field) \(value) is outside \(range)")
        }
        return Int(value)
    }

    mutating func readBool(_ field: String) throws(PayloadDecodingError) -> Bool {
        switch try read(UInt8.self, field) {
        case 0: return false
        case 1: return true
        case let other: throw PayloadDecodingError(.outOfRange, "\(what): \(field) is \(other), not 0 or 1")
        }
    }

    mutating func readPeer(_ field: String) throws(PayloadDecodingError) -> PeerID {
        guard let peer = PeerID(bytes: try take(PeerID.byteCount, for: field)) else {
            preconditionFailure("take gives exactly \(PeerID.byteCount) bytes, and they always make a peer id")
        }
        return peer
    }

    mutating func readString(_ field: String, maxBytes: Int) throws(PayloadDecodingError) -> String {
        let count = try read(UInt16.self, "\(field) length", in: 0...maxBytes)
        let utf8 = try take(count, for: field)
        let string = String(decoding: utf8, as: UTF8.self)
        guard string.utf8.elementsEqual(utf8) else {
            throw PayloadDecodingError(.outOfRange, "\(what): \(field) is not UTF-8")
        }
        return string
    }

    mutating func readLengthPrefixed(_ field: String, maxBytes: Int) throws(PayloadDecodingError) -> ArraySlice<UInt8> {
        let count = try read(UInt32.self, "\(field) length", in: 0...maxBytes)
        return try take(count, for: field)
    }

    /// Throws unless every byte was read.
    func finish() throws(PayloadDecodingError) {
        guard position == bytes.endIndex else {
            throw PayloadDecodingError(.trailingBytes, "\(what): \(bytes.endIndex - position) bytes after the last field")
        }
    }
}

extension ByteWriter {
    /// Continues after existing bytes.
    init(bytes: [UInt8]) {
        self.bytes = bytes
    }
}
