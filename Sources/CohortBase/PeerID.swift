/// A peer's identity: 32 bytes, the SHA-256 of its Ed25519 public key (the DHT derives them).
///
/// The one id type for peers in every layer: the transport, the DHT, matchmaking and the
/// all-reduce all name a peer by it, so no layer converts ids on the way. A peer id is also a
/// point in the DHT's key space (`DHTID(_:)` in `Wire`), but not every key is a peer.
///
/// Ordered byte by byte, so "the lowest id" elects the same matchmaking leader on every peer.
/// Stored as four big-endian words: comparing and hashing need no heap allocation.
public struct PeerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    /// Words from most to least significant.
    public let words: (UInt64, UInt64, UInt64, UInt64)

    public init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// The id whose big-endian bytes are `bytes`; nil unless there are exactly 32.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (offset, byte) in bytes.enumerated() {
            words[offset / 8] = words[offset / 8] << 8 | UInt64(byte)
        }
        self.words = (words[0], words[1], words[2], words[3])
    }

    /// The 32 big-endian bytes, as they go on the wire and under a peer's own subkey.
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(Self.byteCount)
        for word in [words.0, words.1, words.2, words.3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                result.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return result
    }

    /// The first two bytes in hex and an ellipsis ("9f3c…"): enough for a person to tell the
    /// members of one group apart.
    public var shortDescription: String {
        let prefix = bytes.prefix(2).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }
        return prefix.joined() + "…"
    }

    /// The first 8 hex digits, enough to tell peers apart in logs.
    public var description: String {
        let hex = String(words.0 >> 32, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

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
