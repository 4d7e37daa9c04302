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
///     20+n    4     CRC-32C of bytes 0 ..< 20+n
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

    /// The frame's bytes as they go on the wire.
    public func encoded() -> [UInt8] {
        precondition(payload.count <= Int(UInt32.max), "payload of \(payload.count) bytes cannot be framed")
        var writer = ByteWriter(reservingCapacity: Self.headerLength + payload.count + Self.trailerLength)
        writer.write(raw: Self.magic)
        writer.write(Self.version)
        writer.write(UInt8(0))
        writer.write(type.rawValue)
        writer.write(requestID)
        writer.write(UInt32(payload.count))
        writer.write(raw: payload)
        writer.write(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }
}
