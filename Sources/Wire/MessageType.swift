/// The type of a frame's payload, a 16-bit code.
///
/// The code space is cut into families so that later protocols get their own range without
/// renumbering: the high byte names the family, the low byte the message within it.
///
/// | range           | family                                   |
/// |-----------------|------------------------------------------|
/// | 0x0000          | never valid                              |
/// | 0x0001…0x00FF   | control (errors, later: handshake)       |
/// | 0x0100…0x01FF   | DHT (Kademlia RPCs, Kademlia §2.3)       |
/// | 0x0200…0x02FF   | averaging (all-reduce; matchmaking runs over DHT records) |
/// | 0x0300…0x03FF   | state sync (parameter download)          |
/// | 0xF000…0xFFFF   | reserved: experiments, never sent between released versions |
///
/// A decoder refuses codes it does not list here (`WireError.unknownMessageType`).
public enum MessageType: UInt16, CaseIterable, Sendable {
    /// A request could not be served; the reply carries a code and a reason.
    case error = 0x0001

    /// Liveness probe (Kademlia PING).
    case ping = 0x0101
    /// Answer to `ping`.
    case pong = 0x0102
    /// Ask for the contacts closest to a target id (Kademlia FIND_NODE).
    case findNode = 0x0103
    /// Answer to `findNode`.
    case foundNodes = 0x0104
    /// Ask for the records under a key, or closer contacts (Kademlia FIND_VALUE).
    case findValue = 0x0105
    /// Answer to `findValue`.
    case value = 0x0106
    /// Ask the receiver to keep records (Kademlia STORE).
    case store = 0x0107
    /// Answer to `store`, one status per record.
    case storeAck = 0x0108

    /// A member's chunk of the owner's part of the vector being averaged; the owner replies
    /// with `averagedPart` once every member's chunk is in (butterfly all-reduce, DeDLOC §3.1).
    case averagePart = 0x0201
    /// The averaged chunk, answer to `averagePart`.
    case averagedPart = 0x0202
    /// `averagePart` between processes on one machine: where the chunk lies in the sender's
    /// memory, for the owner to copy out (docs/protocol.md, "Same-host copies").
    case averagePartLocal = 0x0203
    /// Where the averaged chunk lies in the owner's memory, answer to `averagePartLocal`.
    case averagedPartLocal = 0x0204
    /// Starts the proof that the peer is a process on this machine: a secret to exhibit.
    case sameHostProbe = 0x0205
    /// Answer to `sameHostProbe`: where the secret lies, and a secret to exhibit in return.
    case sameHostChallenge = 0x0206
    /// Where the challenge's secret lies in the prober's memory.
    case sameHostProof = 0x0207
    /// Answer to `sameHostProof`: the proof held.
    case sameHostProofAccepted = 0x0208

    /// Ask for a byte range of a peer's training state at a step.
    case stateRequest = 0x0301
    /// The bytes asked for, answer to `stateRequest`.
    case stateChunk = 0x0302
    /// Ask for the chunk digests of a peer's training state at a step, which its hash covers.
    case stateManifestRequest = 0x0303
    /// The digests asked for, answer to `stateManifestRequest`.
    case stateManifest = 0x0304
    /// Ask for the chain of updates a peer applied from one state to a newer one (a replay).
    case updatesRequest = 0x0305
    /// The chain's update headers, answer to `updatesRequest`.
    case updates = 0x0306
    /// Ask for a range of the gradient of one update of such a chain.
    case updateChunkRequest = 0x0307
    /// The gradient elements asked for, answer to `updateChunkRequest`.
    case updateChunk = 0x0308

    /// The family a code belongs to, by its high byte.
    public enum Family: Sendable, Equatable {
        case control, dht, averaging, stateSync, experimental, unassigned
    }

    /// The family of any 16-bit code, assigned or not.
    public static func family(of code: UInt16) -> Family {
        switch code {
        case 0x0001...0x00FF: .control
        case 0x0100...0x01FF: .dht
        case 0x0200...0x02FF: .averaging
        case 0x0300...0x03FF: .stateSync
        case 0xF000...0xFFFF: .experimental
        default: .unassigned
        }
    }

    public var family: Family { Self.family(of: rawValue) }
}
