/// A peer's identity: 32 raw bytes (the node derives them from its Ed25519 public key).
///
/// Ordered byte by byte, so "the lowest id" elects the same matchmaking leader on every peer.
/// Stored as four big-endian words: comparing and hashing need no heap allocation.
public struct PeerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    private let words: (UInt64, UInt64, UInt64, UInt64)

    /// Returns nil unless `bytes` holds exactly 32 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words = [UInt64](repeating: 0, count: 4)
        for (index, byte) in bytes.enumerated() {
            words[index / 8] = words[index / 8] << 8 | UInt64(byte)
        }
        self.words = (words[0], words[1], words[2], words[3])
    }

    public var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { word in
            (0..<8).map { UInt8(truncatingIfNeeded: word >> (56 - 8 * $0)) }
        }
    }

    /// The first two bytes in hex and an ellipsis ("9f3c…"): enough for a person to tell peers apart.
    public var shortDescription: String {
        let prefix = bytes.prefix(2).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }
        return prefix.joined() + "…"
    }

    public var description: String { shortDescription }

    public static func == (lhs: PeerID, rhs: PeerID) -> Bool {
        lhs.words == rhs.words
    }

    public static func < (lhs: PeerID, rhs: PeerID) -> Bool {
        lhs.words < rhs.words
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
