import Wire

/// Turns received records into frames.
///
/// A record that lies inside a frame's payload (the sealer cuts a large payload into such
/// records) is decrypted straight into that payload's memory; other records (headers, small
/// frames, trailers) are decrypted into a scratch buffer and fed to the decoder from there.
/// So each received payload byte is written once, by the cipher.
struct FrameOpener {
    private var records: RecordOpener
    private var frames: DecryptedFrames

    init(key: [UInt8], maxPayloadLength: Int) {
        records = RecordOpener(key: key)
        frames = DecryptedFrames(decoder: FrameDecoder(maxPayloadLength: maxPayloadLength, verifiesChecksums: false))
    }

    /// Opens every record `bytes` completes. A record that fails to open throws; the
    /// connection must be closed.
    mutating func open(_ bytes: UnsafeRawBufferPointer) throws(SecureRecordError) {
        try records.open(bytes, into: &frames)
    }

    /// The next frame the opened bytes complete, nil when more bytes are needed. A malformed
    /// frame throws, on this call and every later one.
    mutating func nextFrame() throws(WireError) -> Frame? {
        guard case .frame(let frame) = try frames.decoder.next() else { return nil }
        return frame
    }
}

/// The frame decoder as a destination for decrypted records.
private struct DecryptedFrames: PlaintextDestination {
    var decoder: FrameDecoder
    private var scratch: [UInt8] = []

    init(decoder: FrameDecoder) {
        self.decoder = decoder
    }

    mutating func receivePlaintext(count: Int, _ open: (UnsafeMutableRawBufferPointer) -> Bool) -> Bool {
        if count <= decoder.payloadBytesExpected {
            return decoder.writePayload(count: count, open)
        }
        if scratch.count < count {
            scratch = [UInt8](repeating: 0, count: max(count, SecureRecord.maxPlaintextLength))
        }
        let authentic = scratch.withUnsafeMutableBytes { open(UnsafeMutableRawBufferPointer(rebasing: $0[..<count])) }
        if authentic {
            scratch.withUnsafeBytes { decoder.feed(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return authentic
    }
}
