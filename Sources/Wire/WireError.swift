/// Why bytes from the network could not be decoded.
///
/// A small struct over a private code so that cases can be added without breaking callers;
/// compare against the static members (`error == .badChecksum`). Equality ignores `detail`.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case truncated, oversized, unknownMessageType, badChecksum, wrongMagic
        case unsupportedVersion, unsupportedFlags, trailingBytes, invalidValue
    }

    private let code: Code
    /// What exactly was wrong, for logs; not part of equality.
    public let detail: String

    private init(_ code: Code, _ detail: String = "") {
        self.code = code
        self.detail = detail
    }

    /// The input ended before a value it announced.
    public static var truncated: WireError { WireError(.truncated) }
    /// A length or count exceeds the configured maximum.
    public static var oversized: WireError { WireError(.oversized) }
    /// The frame's message type is not one this implementation knows.
    public static var unknownMessageType: WireError { WireError(.unknownMessageType) }
    /// The frame's CRC-32C does not match its contents.
    public static var badChecksum: WireError { WireError(.badChecksum) }
    /// The frame does not start with the protocol magic.
    public static var wrongMagic: WireError { WireError(.wrongMagic) }
    /// The frame's protocol version is not supported.
    public static var unsupportedVersion: WireError { WireError(.unsupportedVersion) }
    /// The frame sets flag bits that this version does not define.
    public static var unsupportedFlags: WireError { WireError(.unsupportedFlags) }
    /// A payload has bytes left over after its message was decoded.
    public static var trailingBytes: WireError { WireError(.trailingBytes) }
    /// A field holds a value outside its domain (bad tag, invalid UTF-8, wrong key length).
    public static var invalidValue: WireError { WireError(.invalidValue) }

    /// The same error with a detail for logs.
    public func with(detail: String) -> WireError {
        WireError(code, detail)
    }

    public static func == (lhs: WireError, rhs: WireError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String {
        detail.isEmpty ? "WireError.\(code)" : "WireError.\(code): \(detail)"
    }
}
