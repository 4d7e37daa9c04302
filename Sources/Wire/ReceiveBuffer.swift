/// Bytes received from a stream and not yet consumed by a decoder.
///
/// Decoders read `bytes` from `readIndex` on and move `readIndex` past what they consumed. The
/// consumed prefix is dropped when it is at least half the buffer, so memory stays bounded
/// without moving bytes on every read.
public struct ReceiveBuffer: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Where the unconsumed bytes start.
    public var readIndex = 0

    public init() {}

    /// Bytes received and not yet consumed.
    public var unreadCount: Int { bytes.count - readIndex }

    public mutating func append(_ received: some Sequence<UInt8>) {
        if readIndex > 0 && readIndex * 2 >= bytes.count {
            bytes.removeFirst(readIndex)
            readIndex = 0
        }
        bytes.append(contentsOf: received)
    }

    /// Appends from memory in one copy, without per-byte iteration.
    public mutating func append(_ received: UnsafeRawBufferPointer) {
        received.withMemoryRebound(to: UInt8.self) { append($0) }
    }
}
