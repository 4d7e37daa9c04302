import NIOCore

/// Where `RecordOpener` puts what it opens: each record is decrypted straight into memory the
/// destination lends, so that the plaintext is not copied again on its way to where it is used.
public protocol PlaintextDestination {
    /// Lends memory for the next `count` plaintext bytes to `open`, which decrypts into it and
    /// returns whether the record authenticated; the bytes are kept only if it did.
    mutating func receivePlaintext(count: Int, _ open: (UnsafeMutableRawBufferPointer) -> Bool) -> Bool
}

extension ByteBuffer: PlaintextDestination {
    public mutating func receivePlaintext(count: Int, _ open: (UnsafeMutableRawBufferPointer) -> Bool) -> Bool {
        var authentic = false
        writeWithUnsafeMutableBytes(minimumWritableBytes: count) { destination in
            authentic = open(UnsafeMutableRawBufferPointer(rebasing: destination[..<count]))
            return authentic ? count : 0
        }
        return authentic
    }
}

/// Opens incoming records under one direction's key, from a byte stream as it arrives.
///
/// Records wholly inside the received bytes are decrypted from there into the memory the
/// destination lends; only a record a read cut off is copied aside until the rest arrives.
public struct RecordOpener {
    private let cipher: RecordCipher
    private var sequence: UInt64 = 0
    /// The start of a record that the received bytes cut off.
    private var partial: [UInt8] = []

    public init(key: [UInt8]) {
        cipher = RecordCipher(key: key)
    }

    /// Bytes of a record not yet complete.
    public var bufferedByteCount: Int { partial.count }

    /// Opens every record `bytes` completes and appends their plaintexts to `output`. A record
    /// that fails throws; the connection must then be closed, as the stream is tampered with
    /// or out of step.
    public mutating func open(_ bytes: UnsafeRawBufferPointer, into output: inout some PlaintextDestination) throws(SecureRecordError) {
        var unread = bytes[...]
        if !partial.isEmpty || unread.count < SecureRecord.headerLength {
            guard try completePartial(from: &unread, into: &output) else { return }
        }
        while unread.count >= SecureRecord.headerLength {
            let sealedLength = try SecureRecord.sealedLength(announcedBy: UnsafeRawBufferPointer(rebasing: unread.prefix(SecureRecord.headerLength)))
            let recordLength = SecureRecord.headerLength + sealedLength
            guard unread.count >= recordLength else { break }
            try openRecord(UnsafeRawBufferPointer(rebasing: unread.prefix(recordLength)), into: &output)
            unread = unread.dropFirst(recordLength)
        }
        _ = try completePartial(from: &unread, into: &output)
    }

    /// Moves bytes from `unread` into the cut-off record until it is complete (then opens it and
    /// returns true) or `unread` is used up (false).
    private mutating func completePartial(from unread: inout Slice<UnsafeRawBufferPointer>,
                                          into output: inout some PlaintextDestination) throws(SecureRecordError) -> Bool {
        if partial.count < SecureRecord.headerLength {
            let taken = unread.prefix(SecureRecord.headerLength - partial.count)
            partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: taken))
            unread = unread.dropFirst(taken.count)
            guard partial.count == SecureRecord.headerLength else { return false }
        }
        let sealedLength = try SecureRecord.sealedLength(announcedBy: partial)
        let taken = unread.prefix(SecureRecord.headerLength + sealedLength - partial.count)
        partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: taken))
        unread = unread.dropFirst(taken.count)
        guard partial.count == SecureRecord.headerLength + sealedLength else { return false }
        // Moved out (not copied) while it is opened, so its buffer is reused for the next cut record.
        var record: [UInt8] = []
        swap(&record, &partial)
        var failure: SecureRecordError?
        record.withUnsafeBytes { record in
            do throws(SecureRecordError) { try openRecord(record, into: &output) } catch { failure = error }
        }
        record.removeAll(keepingCapacity: true)
        partial = record
        if let failure { throw failure }
        return true
    }

    /// Opens one whole record (header, ciphertext, tag) into `output`.
    private mutating func openRecord(_ record: UnsafeRawBufferPointer, into output: inout some PlaintextDestination) throws(SecureRecordError) {
        guard sequence < UInt64.max else { throw .sequenceExhausted }
        let header = UnsafeRawBufferPointer(rebasing: record.prefix(SecureRecord.headerLength))
        let sealed = UnsafeRawBufferPointer(rebasing: record.dropFirst(SecureRecord.headerLength))
        let plaintextLength = sealed.count - SecureRecord.tagLength
        let cipher = self.cipher
        let opened = SecureRecord.withNonce(sequence) { nonce in
            output.receivePlaintext(count: plaintextLength) { destination in
                cipher.open(sealed, nonce: nonce, authenticating: header, into: destination)
            }
        }
        guard opened else { throw .authenticationFailed }
        sequence += 1
    }
}
