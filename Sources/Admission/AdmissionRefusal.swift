/// Why a node refused a peer's admission to the run. Sent to the refused peer as a one-byte
/// reason in the handshake's refusal message, so the peer can say what is wrong.
///
/// Equality compares reasons only: `detail` is what the refusing side knows beyond the code
/// (the expiry, the other run's name) and never crosses the wire.
public struct AdmissionRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// An open set of codes, as on the wire: an unknown one still means "refused".
    public struct Reason: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The peer presented no token and is not the run key's holder.
        public static let noToken = Reason(rawValue: 1)
        /// The token's bytes do not decode.
        public static let malformedToken = Reason(rawValue: 2)
        /// The token was issued by another key than the run's.
        public static let wrongSigner = Reason(rawValue: 3)
        /// The token's signature does not verify.
        public static let badSignature = Reason(rawValue: 4)
        /// The token admits to another run.
        public static let otherRun = Reason(rawValue: 5)
        /// The token names another public key than the one the peer proved.
        public static let otherPeer = Reason(rawValue: 6)
        /// The token's expiry has passed.
        public static let expired = Reason(rawValue: 7)
        /// The run's revocation list names the peer's key.
        public static let revoked = Reason(rawValue: 8)

        var summary: String {
            switch self {
            case .noToken: "no access token presented, and this run admits only peers with one"
            case .malformedToken: "the access token is malformed"
            case .wrongSigner: "the access token is signed by another key than the run's"
            case .badSignature: "the access token's signature does not verify"
            case .otherRun: "the access token is for another run"
            case .otherPeer: "the access token was issued to another peer key"
            case .expired: "the access token has expired"
            case .revoked: "the peer's key is revoked in this run"
            default: "admission refused (reason \(rawValue))"
            }
        }
    }

    public let reason: Reason
    public let detail: String

    public init(_ reason: Reason, _ detail: String = "") {
        self.reason = reason
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? reason.summary : "\(reason.summary) (\(detail))"
    }

    public static func == (lhs: AdmissionRefusal, rhs: AdmissionRefusal) -> Bool { lhs.reason == rhs.reason }
    public func hash(into hasher: inout Hasher) { hasher.combine(reason) }
}
