/// Bounds that every decoder enforces on DHT payloads, whatever the frame limit.
///
/// They are part of the protocol (docs/protocol.md, "Limits"): a message that exceeds one is
/// refused with `WireError.oversized`.
public enum WireLimits {
    /// Bytes of an endpoint's host (a DNS name is at most 253).
    public static let maxHostBytes = 255
    /// Contacts in one `foundNodes` or `value` reply.
    public static let maxContactsPerMessage = 64
    /// Records in one `store` request or `value` reply.
    public static let maxRecordsPerMessage = 4096
    /// Bytes of a record's subkey.
    public static let maxSubkeyBytes = 128
    /// Bytes of a record's value.
    public static let maxValueBytes = 64 * 1024
    /// Bytes of the reason in an `error` reply.
    public static let maxErrorMessageBytes = 1024
    /// Status codes in one `storeAck`, the same as records in a `store`.
    public static let maxStatusesPerMessage = maxRecordsPerMessage
}
