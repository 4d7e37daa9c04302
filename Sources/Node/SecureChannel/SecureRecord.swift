import NIOCore
import Wire

/// The encrypted record layer that carries the byte stream after the handshake
/// (docs/protocol.md, "Encrypted records").
///
///     offset  size  field
///     0       4     sealed length n, little-endian: ciphertext + 16-byte tag, 16 ≤ n ≤ 16 + max plaintext
///     4       n-16  AES-256-GCM ciphertext
///     4+n-16  16    GCM tag
///
/// The nonce is four zero bytes followed by the record's sequence number as a little-endian
/// u64; each direction counts from 0 with its own key. The four length bytes are the
/// associated data. A record that fails to open ends the connection: the stream is either
/// tampered with or out of step.
public enum SecureRecord {
    /// Largest plaintext in one record; longer writes are split.
    public static let maxPlaintextLength = 64 * 1024
    static let headerLength = 4
    static let tagLength = RecordCipher.tagLength
    static let maxRecordLength = headerLength + maxPlaintextLength + tagLength

    /// Calls `body` with the nonce of record `sequence`: four zero bytes, then the sequence as a
    /// little-endian u64.
    static func withNonce<Result>(_ sequence: UInt64, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let words = (UInt32(0), UInt32(truncatingIfNeeded: sequence).littleEndian, UInt32(truncatingIfNeeded: sequence >> 32).littleEndian)
        return withUnsafeBytes(of: words, body)
    }

    /// The sealed length a record header announces, checked against the bounds.
    static func sealedLength(announcedBy header: UnsafeRawBufferPointer) throws(SecureRecordError) -> Int {
        try sealedLength(Int(UInt32(littleEndian: header.loadUnaligned(as: UInt32.self))))
    }

    static func sealedLength(announcedBy header: [UInt8]) throws(SecureRecordError) -> Int {
        try sealedLength(Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24)
    }

    private static func sealedLength(_ length: Int) throws(SecureRecordError) -> Int {
        guard length >= tagLength, length <= maxPlaintextLength + tagLength else { throw .badLength(length) }
        return length
    }
}

/// Why received records could not be opened.
public enum SecureRecordError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The announced length is below the tag length or above the maximum.
    case badLength(Int)
    /// Authentication failed: tampered, reordered or from another key.
    case authenticationFailed
    /// The sequence number would wrap; the connection must be closed.
    case sequenceExhausted

    public var description: String {
        switch self {
        case .badLength(let length): "record length \(length) out of bounds"
        case .authenticationFailed: "record does not authenticate"
        case .sequenceExhausted: "record sequence number exhausted"
        }
    }
}

/// Seals outgoing bytes into records under one direction's key.
public struct RecordSealer {
    /// Payload bytes that travel with a frame's header, and with its trailer, through the
    /// scratch buffer; the rest of a larger payload is sealed from the frame's array in place.
    static let frameEdgeLength = 4096

    private let cipher: RecordCipher
    private var sequence: UInt64 = 0
    private var scratch: [UInt8] = []

    public init(key: [UInt8]) {
        cipher = RecordCipher(key: key)
    }

    /// The records carrying `plaintext`, split at `SecureRecord.maxPlaintextLength`.
    public mutating func seal(_ plaintext: [UInt8]) throws(SecureRecordError) -> [UInt8] {
        var output = ByteBuffer()
        try seal(plaintext, range: plaintext.indices, into: &output)
        return Array(output.readableBytesView)
    }

    /// Appends the records carrying `frame`'s wire bytes, without the checksum (the records
    /// authenticate every byte), to `output`. A small frame is put together in the scratch
    /// buffer; a large one is sealed as a record of its header and first payload bytes, records
    /// read straight from its payload, and a record of its last payload bytes and trailer, so
    /// the payload is not copied before it is encrypted.
    public mutating func seal(_ frame: Frame, into output: inout ByteBuffer) throws(SecureRecordError) {
        let payload = frame.payload
        let edge = Self.frameEdgeLength
        guard payload.count > 2 * edge else {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: repeatElement(0, count: frame.encodedLength))
            scratch.withUnsafeMutableBytes { frame.encode(into: $0, withChecksum: false) }
            try sealScratch(into: &output)
            return
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: repeatElement(0, count: Frame.headerLength))
        scratch.withUnsafeMutableBytes { frame.encodeHeader(into: $0) }
        scratch.append(contentsOf: payload[..<edge])
        try sealScratch(into: &output)
        try seal(payload, range: edge..<(payload.count - edge), into: &output)
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: payload[(payload.count - edge)...])
        scratch.append(contentsOf: repeatElement(0, count: Frame.trailerLength))
        try sealScratch(into: &output)
    }

    /// The most bytes `seal(_ frame:into:)` appends for `frame`.
    static func sealedCapacity(of frame: Frame) -> Int {
        let records = frame.encodedLength / SecureRecord.maxPlaintextLength + 3
        return frame.encodedLength + records * (SecureRecord.headerLength + SecureRecord.tagLength)
    }

    private mutating func sealScratch(into output: inout ByteBuffer) throws(SecureRecordError) {
        let plaintext = scratch
        try seal(plaintext, range: plaintext.indices, into: &output)
    }

    /// Seals `bytes[range]` in place (`Array.withUnsafeBytes` does not pass typed errors through).
    private mutating func seal(_ bytes: [UInt8], range: Range<Int>, into output: inout ByteBuffer) throws(SecureRecordError) {
        var failure: SecureRecordError?
        bytes.withUnsafeBytes { all in
            do throws(SecureRecordError) { try seal(UnsafeRawBufferPointer(rebasing: all[range]), into: &output) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Appends the records carrying `plaintext` to `output`: each record is encrypted from the
    /// plaintext straight into the output's memory.
    public mutating func seal(_ plaintext: UnsafeRawBufferPointer, into output: inout ByteBuffer) throws(SecureRecordError) {
        var start = 0
        repeat {
            let end = min(plaintext.count, start + SecureRecord.maxPlaintextLength)
            try sealOne(UnsafeRawBufferPointer(rebasing: plaintext[start..<end]), into: &output)
            start = end
        } while start < plaintext.count
    }

    private mutating func sealOne(_ chunk: UnsafeRawBufferPointer, into output: inout ByteBuffer) throws(SecureRecordError) {
        guard sequence < UInt64.max else { throw .sequenceExhausted }
        let sealedLength = chunk.count + SecureRecord.tagLength
        let header = UInt32(sealedLength).littleEndian
        output.writeInteger(header, endianness: .host)
        let cipher = self.cipher
        SecureRecord.withNonce(sequence) { nonce in
            withUnsafeBytes(of: header) { header in
                _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: sealedLength) { destination in
                    cipher.seal(chunk, nonce: nonce, authenticating: header,
                                into: UnsafeMutableRawBufferPointer(rebasing: destination[..<sealedLength]))
                    return sealedLength
                }
            }
        }
        sequence += 1
    }
}
