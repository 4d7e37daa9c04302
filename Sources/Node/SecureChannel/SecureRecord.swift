import Crypto
import Foundation
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
    static let tagLength = 16

    static func nonce(_ sequence: UInt64) -> AES.GCM.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 { bytes[4 + index] = UInt8(truncatingIfNeeded: sequence >> (8 * UInt64(index))) }
        guard let nonce = try? AES.GCM.Nonce(data: bytes) else { preconditionFailure("a 12-byte nonce is valid") }
        return nonce
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
    private let key: SymmetricKey
    private var sequence: UInt64 = 0

    public init(key: [UInt8]) {
        self.key = SymmetricKey(data: key)
    }

    /// The records carrying `plaintext`, split at `SecureRecord.maxPlaintextLength`.
    public mutating func seal(_ plaintext: [UInt8]) throws(SecureRecordError) -> [UInt8] {
        var output = ByteBuffer()
        var failure: SecureRecordError?
        plaintext.withUnsafeBytes { bytes in
            do throws(SecureRecordError) { try seal(bytes, into: &output) } catch { failure = error }
        }
        if let failure { throw failure }
        return Array(output.readableBytesView)
    }

    /// Appends the records carrying `plaintext` to `output`, reading the plaintext in place: the
    /// connection's send path, where each record's bytes are written once.
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
        var header = ByteWriter(reservingCapacity: SecureRecord.headerLength)
        header.write(UInt32(chunk.count + SecureRecord.tagLength))
        guard let box = try? AES.GCM.seal(chunk, using: key, nonce: SecureRecord.nonce(sequence), authenticating: header.bytes) else {
            preconditionFailure("AES-256-GCM sealing does not fail with a 32-byte key")
        }
        sequence += 1
        output.writeBytes(header.bytes)
        output.writeBytes(box.ciphertext)
        output.writeBytes(box.tag)
    }
}

/// Opens incoming records under one direction's key, from a byte stream fed as it arrives.
public struct RecordOpener {
    private let key: SymmetricKey
    private var sequence: UInt64 = 0
    private var received = ReceiveBuffer()

    public init(key: [UInt8]) {
        self.key = SymmetricKey(data: key)
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        received.append(bytes)
    }

    /// Appends received bytes from memory (one copy, no per-byte iteration).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        received.append(bytes)
    }

    /// The plaintext of the next complete record, nil when more bytes are needed.
    public mutating func next() throws(SecureRecordError) -> [UInt8]? {
        guard let plaintext = try nextPlaintext() else { return nil }
        return Array(plaintext)
    }

    /// Opens every complete record received so far and appends their plaintexts to `output`.
    public mutating func openAvailable(into output: inout ByteBuffer) throws(SecureRecordError) {
        while let plaintext = try nextPlaintext() {
            output.writeBytes(plaintext)
        }
    }

    private mutating func nextPlaintext() throws(SecureRecordError) -> Data? {
        let available = received.unreadCount
        guard available >= SecureRecord.headerLength else { return nil }
        var header = ByteReader(received.bytes, range: received.readIndex..<received.readIndex + SecureRecord.headerLength)
        guard let sealedLength = try? Int(header.readU32()) else { preconditionFailure("4 bytes hold a u32") }
        guard sealedLength >= SecureRecord.tagLength,
              sealedLength <= SecureRecord.maxPlaintextLength + SecureRecord.tagLength else { throw .badLength(sealedLength) }
        guard available >= SecureRecord.headerLength + sealedLength else { return nil }
        guard sequence < UInt64.max else { throw .sequenceExhausted }
        let bodyStart = received.readIndex + SecureRecord.headerLength
        let tagStart = bodyStart + sealedLength - SecureRecord.tagLength
        let aad = received.bytes[received.readIndex..<bodyStart]
        guard let box = try? AES.GCM.SealedBox(nonce: SecureRecord.nonce(sequence), ciphertext: received.bytes[bodyStart..<tagStart],
                                                  tag: received.bytes[tagStart..<tagStart + SecureRecord.tagLength]),
              let plaintext = try? AES.GCM.open(box, using: key, authenticating: aad) else {
            throw .authenticationFailed
        }
        sequence += 1
        received.readIndex = tagStart + SecureRecord.tagLength
        return plaintext
    }
}
