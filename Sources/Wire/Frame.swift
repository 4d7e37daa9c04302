/// One message on a connection: a fixed header, the payload, and a checksum.
///
/// Layout (all integers little-endian):
///
///     offset  size  field
///     0       4     magic "CHRT" (0x43 0x48 0x52 0x54)
///     4       1     protocol version (1)
///     5       1     flags (0 in version 1; other values are refused)
///     6       2     message type (`MessageType`)
///     8       8     request id (a reply carries the id of its request)
///     16      4     payload length (at most the receiver's maximum)
///     20      n     payload
///     20+n    4     CRC-32C of bytes 0 ..< 20+n (zero inside an authenticated channel, whose
///                   records already prove every byte; see `FrameDecoder.verifiesChecksums`)
public struct Frame: Hashable, Sendable {
    public var type: MessageType
    public var requestID: UInt64
    public var payload: [UInt8]

    public init(type: MessageType, requestID: UInt64, payload: [UInt8]) {
        self.type = type
        self.requestID = requestID
        self.payload = payload
    }

    /// The four bytes every frame starts with, "CHRT".
    public static let magic: [UInt8] = [0x43, 0x48, 0x52, 0x54]
    /// The protocol version this implementation writes and reads.
    public static let version: UInt8 = 1
    /// Bytes before the payload.
    public static let headerLength = 20
    /// Bytes after the payload (the checksum).
    public static let trailerLength = 4
    /// Default bound on a payload; receivers may choose a smaller or larger one.
    public static let defaultMaxPayloadLength = 16 * 1024 * 1024

    /// Bytes the frame takes on the wire: header, payload and checksum.
    public var encodedLength: Int { Self.headerLength + payload.count + Self.trailerLength }

    /// The frame's bytes as they go on the wire.
    public func encoded() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: encodedLength) { buffer, initialized in
            encode(into: UnsafeMutableRawBufferPointer(buffer))
            initialized = encodedLength
        }
    }

    /// Writes the frame's wire bytes at the start of `destination` (at least `encodedLength`
    /// long): the payload is copied once, and the checksum, unless left out (zero), runs over
    /// the written bytes.
    public func encode(into destination: UnsafeMutableRawBufferPointer, withChecksum: Bool = true) {
        precondition(destination.count >= encodedLength, "\(destination.count) bytes cannot hold a frame of \(encodedLength)")
        encodeHeader(into: destination)
        let checkedEnd = Self.headerLength + payload.count
        payload.withUnsafeBytes {
            UnsafeMutableRawBufferPointer(rebasing: destination[Self.headerLength..<checkedEnd]).copyMemory(from: $0)
        }
        let checksum = withChecksum ? CRC32C.checksum(UnsafeRawBufferPointer(rebasing: destination[..<checkedEnd])) : 0
        destination.storeBytes(of: checksum.littleEndian, toByteOffset: checkedEnd, as: UInt32.self)
    }

    /// Writes the frame's 20 header bytes at the start of `destination`.
    public func encodeHeader(into destination: UnsafeMutableRawBufferPointer) {
        precondition(payload.count <= Int(UInt32.max), "payload of \(payload.count) bytes cannot be framed")
        precondition(destination.count >= Self.headerLength, "\(destination.count) bytes cannot hold a frame header")
        Self.magic.withUnsafeBytes { destination.copyMemory(from: $0) }
        destination.storeBytes(of: Self.version, toByteOffset: 4, as: UInt8.self)
        destination.storeBytes(of: 0, toByteOffset: 5, as: UInt8.self)
        destination.storeBytes(of: type.rawValue.littleEndian, toByteOffset: 6, as: UInt16.self)
        destination.storeBytes(of: requestID.littleEndian, toByteOffset: 8, as: UInt64.self)
        destination.storeBytes(of: UInt32(payload.count).littleEndian, toByteOffset: 16, as: UInt32.self)
    }
}
