import CohortBase
import Admission
import DHT

/// Why a handshake failed; logged when the connection is closed.
public enum HandshakeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Bytes that are not the handshake message expected next.
    case malformed(String)
    /// A message announced a body longer than any handshake message.
    case oversized(Int)
    /// A key is not a valid X25519 or Ed25519 public key.
    case invalidKey(String)
    /// The peer's signature over the transcript does not verify.
    case badSignature
    /// The responder proved an identity other than the one the initiator dialled.
    case unexpectedPeer(expected: PeerID, actual: PeerID)
    /// The peer proved this node's own identity (a node dialled itself).
    case connectedToSelf
    /// This node refused the peer's admission to the run (its token, or its lack of one).
    case notAdmitted(AdmissionRefusal)
    /// The peer refused this node's admission and said why.
    case refusedByPeer(AdmissionRefusal)
    /// The handshake did not finish within its deadline.
    case timedOut
    /// The connection closed before the handshake finished.
    case closedEarly

    public var description: String {
        switch self {
        case .malformed(let detail): "malformed handshake message: \(detail)"
        case .oversized(let length): "handshake message body of \(length) bytes is too long"
        case .invalidKey(let detail): "invalid key: \(detail)"
        case .badSignature: "transcript signature does not verify"
        case .unexpectedPeer(let expected, let actual): "expected peer \(expected), responder proved \(actual)"
        case .connectedToSelf: "the peer has this node's own identity"
        case .notAdmitted(let refusal): "peer not admitted: \(refusal)"
        case .refusedByPeer(let refusal): "the peer refused this node: \(refusal)"
        case .timedOut: "handshake timed out"
        case .closedEarly: "connection closed during the handshake"
        }
    }
}
