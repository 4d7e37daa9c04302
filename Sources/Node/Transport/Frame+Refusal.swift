import DHT
import Wire

extension Frame {
    /// A reply that refuses a request, with the reason for the asker's log.
    public static func refusal(_ reason: String, code: UInt16 = TransportErrorCode.unavailable) -> Frame {
        Frame(type: .error, requestID: 0, payload: DHTMessage.error(.init(code: code, message: reason)).encodedPayload())
    }
}
