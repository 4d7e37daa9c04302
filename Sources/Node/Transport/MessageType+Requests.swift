import Wire

extension MessageType {
    /// Whether frames of this type are requests (served and answered under their request id)
    /// rather than replies (matched to a request this node sent).
    var isRequest: Bool {
        switch self {
        case .stateManifestRequest, .updatesRequest, .updateChunkRequest: true
        case .stateManifest, .updates, .updateChunk: false
        case .ping, .findNode, .findValue, .store, .averagePart, .averagePartLocal, .sameHostProbe, .sameHostProof, .stateRequest: true
        case .error, .pong, .foundNodes, .value, .storeAck, .averagedPart, .averagedPartLocal, .sameHostChallenge,
             .sameHostProofAccepted, .stateChunk: false
        }
    }
}

/// Codes in `error` replies sent by the transport and the DHT shell (docs/protocol.md).
public enum TransportErrorCode {
    /// The peer has too many of this node's requests in flight; retry later.
    public static let busy: UInt16 = 2
    /// A request's sender contact names an id other than the one its connection proved.
    public static let senderMismatch: UInt16 = 3
    /// The node is not ready or is shutting down.
    public static let unavailable: UInt16 = 4
    /// An `averagePartLocal` whose chunk this node could not copy out of the sender's memory;
    /// send it through the socket (docs/protocol.md, "Same-host copies").
    public static let sameHostRefused: UInt16 = 7
    /// An `averagePart` for a round this node will never form: it is already past the round's
    /// step, having averaged it in another group or stepped alone.
    public static let pastTheRound: UInt16 = 8
}
