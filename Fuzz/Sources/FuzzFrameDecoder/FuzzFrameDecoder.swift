import Wire
import FuzzSupport

/// Feeds arbitrary bytes to `FrameDecoder` in chunks whose sizes the input chooses; the first
/// byte's top bit chooses whether checksums are verified (or not, as inside encrypted records)
/// and its next bit whether payload bytes are written through `writePayload(count:_:)`, as the
/// record layer decrypts them, instead of fed. Every frame returned must re-encode to a frame
/// that decodes to itself, and the frames and the failure must be those of a decoder fed the
/// whole stream at once. Any crash, hang or sanitizer report is a bug; thrown `WireError`s are
/// expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let chunkSize = Int(first % 32) + 1
    let verifiesChecksums = first & 0x80 == 0
    let lendsPayload = first & 0x40 != 0
    var decoder = FrameDecoder(maxPayloadLength: 1 << 20, verifiesChecksums: verifiesChecksums)
    var frames: [Frame] = []
    var failure: WireError?
    var offset = 1
    while offset < bytes.count && failure == nil {
        let end = min(bytes.count, offset + chunkSize)
        if lendsPayload && decoder.payloadBytesExpected > 0 {
            let count = min(decoder.payloadBytesExpected, end - offset)
            let source = bytes[offset..<(offset + count)]
            let written = decoder.writePayload(count: count) { destination in
                source.withUnsafeBytes { destination.copyMemory(from: $0) }
                return true
            }
            precondition(written, "a write that succeeded was refused")
            offset += count
        } else {
            decoder.feed(bytes[offset..<end])
            offset = end
        }
        do {
            while case .frame(let frame) = try decoder.next() {
                var again = FrameDecoder()
                again.feed(frame.encoded())
                precondition((try? again.next()) == .frame(frame), "frame does not survive a round trip: \(frame)")
                _ = try? DHTMessage(frame: frame)
                frames.append(frame)
            }
        } catch {
            failure = error
        }
    }
    var whole = FrameDecoder(maxPayloadLength: 1 << 20, verifiesChecksums: verifiesChecksums)
    whole.feed(bytes[1...])
    var wholeFrames: [Frame] = []
    var wholeFailure: WireError?
    do {
        while case .frame(let frame) = try whole.next() { wholeFrames.append(frame) }
    } catch {
        wholeFailure = error
    }
    precondition(frames == wholeFrames && failure == wholeFailure, "decoding depends on how the bytes arrive")
    return 0
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzFrameDecoder_main")
public func fuzzFrameDecoderMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzFrameDecoder)
}
