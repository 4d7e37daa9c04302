import Wire
import FuzzSupport

/// Feeds arbitrary bytes to `FrameDecoder` in chunks whose sizes the input chooses (and, by
/// the first byte's top bit, with checksums verified or, as inside encrypted records, not),
/// and checks that every frame it returns re-encodes to a frame that decodes to itself.
/// Any crash, hang or sanitizer report is a bug; thrown `WireError`s are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let chunkSize = bytes.first.map({ Int($0 % 32) + 1 }) else { return 0 }
    var decoder = FrameDecoder(maxPayloadLength: 1 << 20, verifiesChecksums: bytes[0] & 0x80 == 0)
    var offset = 1
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunkSize)
        decoder.feed(bytes[offset..<end])
        offset = end
        do {
            while case .frame(let frame) = try decoder.next() {
                var again = FrameDecoder()
                again.feed(frame.encoded())
                precondition((try? again.next()) == .frame(frame), "frame does not survive a round trip: \(frame)")
                _ = try? DHTMessage(frame: frame)
            }
        } catch {
            return 0
        }
    }
    return 0
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzFrameDecoder_main")
public func fuzzFrameDecoderMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzFrameDecoder)
}
