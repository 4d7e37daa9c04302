import CohortBase

/// A 256-bit identifier in the Kademlia id space: record keys, lookup targets and the points
/// peers sit at (`init(_:)` from a `PeerID`), the one space XOR distance is taken in (Kademlia §2).
///
/// Stored as four big-endian 64-bit words so that XOR distance and its ordering are cheap;
/// `bytes` gives the 32-byte big-endian form that goes on the wire.
public struct DHTID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Words from most to least significant.
    public let words: (UInt64, UInt64, UInt64, UInt64)

    public static let byteCount = 32

    public init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// The point of the key space a peer sits at: its id's bytes (Kademlia §2.1).
    public init(_ peer: PeerID) {
        self.words = peer.words
    }

    /// The id whose big-endian bytes are `bytes`; nil unless there are exactly 32. Both ids
    /// lay out 256 bits the same way, so `PeerID` reads and writes the bytes for both.
    public init?(bytes: some Collection<UInt8>) {
        guard let point = PeerID(bytes: bytes) else { return nil }
        self.init(point)
    }

    /// The 32 big-endian bytes.
    public var bytes: [UInt8] { PeerID(words: words).bytes }

    /// The Kademlia distance `self XOR other` (Kademlia §2.1).
    public func distance(to other: DHTID) -> DHTID {
        DHTID(words: (words.0 ^ other.words.0, words.1 ^ other.words.1,
                      words.2 ^ other.words.2, words.3 ^ other.words.3))
    }

    /// Number of leading zero bits, 256 for the zero id.
    public var leadingZeroBitCount: Int {
        if words.0 != 0 { return words.0.leadingZeroBitCount }
        if words.1 != 0 { return 64 + words.1.leadingZeroBitCount }
        if words.2 != 0 { return 128 + words.2.leadingZeroBitCount }
        return 192 + words.3.leadingZeroBitCount
    }

    public static let zero = DHTID(words: (0, 0, 0, 0))

    public static func < (lhs: DHTID, rhs: DHTID) -> Bool {
        if lhs.words.0 != rhs.words.0 { return lhs.words.0 < rhs.words.0 }
        if lhs.words.1 != rhs.words.1 { return lhs.words.1 < rhs.words.1 }
        if lhs.words.2 != rhs.words.2 { return lhs.words.2 < rhs.words.2 }
        return lhs.words.3 < rhs.words.3
    }

    public static func == (lhs: DHTID, rhs: DHTID) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1
            && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// The first 8 hex digits, enough to tell ids apart in logs.
    public var description: String {
        let hex = String(words.0 >> 32, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}
