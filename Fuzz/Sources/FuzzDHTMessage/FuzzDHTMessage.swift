import Wire
import FuzzSupport

/// Decodes arbitrary payloads as each DHT message type (the first input byte picks the type)
/// and checks that the encoding is canonical: whatever decodes re-encodes to the same bytes.
/// Any crash, hang or sanitizer report is a bug; thrown `WireError`s are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDHTMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let type = MessageType.allCases[Int(selector) % MessageType.allCases.count]
    let payload = Array(bytes.dropFirst())
    guard let message = try? DHTMessage(frame: Frame(type: type, requestID: 1, payload: payload)) else { return 0 }
    precondition(message.type == type, "decoded \(message.type) from a \(type) frame")
    precondition(message.encodedPayload() == payload, "encoding is not canonical for \(message)")
    return 0
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzDHTMessage_main")
public func fuzzDHTMessageMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzDHTMessage)
}
