/// One misbehaviour a node saw from an authenticated peer, counted towards a ban
/// (`OffenceLedger`). Only what an honest peer never does counts: a bad signature, a part
/// failing the owner's checks, a frame that breaks the protocol, a flood beyond the limits —
/// not a timeout, a closed connection or an expired record, which honest peers cause too.
public struct Offence: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// An all-reduce contribution that broke the plan or failed the owner's checks.
        case badPart = "bad part"
        /// A DHT record that does not validate (bad signature, over the size limits).
        case badRecord = "bad record"
        /// A frame or request that breaks the protocol.
        case protocolViolation = "protocol violation"
        /// Requests beyond the per-peer rate limits.
        case flood
        /// A record claiming what no honest peer of the run writes, such as a state of another
        /// size than the run's model.
        case falseClaim = "false claim"
        /// An owner's average that is not finite, in a round of three or more members: an
        /// honest owner sends zero for any value that overflows, so no sender can have caused it
        /// (`AllReduceRound`'s average check). It is proof, not suspicion, so it bans at once.
        case poisonedAverage = "poisoned average"
    }

    public var kind: Kind
    /// What exactly, for the log line: "stored a record with a bad signature".
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// Whether this one offence is enough for a ban: what no honest peer can have done by
    /// accident or through another's fault.
    public var bansAtOnce: Bool { kind == .poisonedAverage }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
