import CohortBase
import Crypto
import Wire

/// The messages that prove a peer is a process on this machine, in two exchanges over the
/// authenticated channel (docs/protocol.md, "Same-host copies"): the prober sends a secret
/// (`sameHostProbe`); the other side puts it in its memory and answers with its process id,
/// the secret's address and a secret of its own (`sameHostChallenge`); the prober copies the
/// first secret from there, puts the second in its memory and says where (`sameHostProof`);
/// the other side copies and compares it (`sameHostProofAccepted`). Only a process that holds
/// the secret can pass, so a peer cannot point the other at some third process's memory.
///
/// Neither side exhibits a secret as it came: each exhibits a hash binding it to its role and
/// to both peers' ids (`answerToken`, `proofToken`). With raw secrets, an outsider with two
/// identities could have a victim exhibit the victim's own challenge (the second identity's
/// probe carrying it) and then "prove" the first identity with the victim's own process id and
/// that address; the victim would copy "chunks" from its own memory, its identity key among
/// them, into averages the outsider receives. A bound token is one only the prover's own
/// process computes: no other process ever exhibits a proof token naming that prover.
public enum SameHostProof {
    public static let secretLength = 32
    static let answerDomain = Array("cohort same-host answer v1".utf8)
    static let proofDomain = Array("cohort same-host proof v1".utf8)

    /// What the answering side exhibits for a probe: the prober's secret bound to both ids.
    static func answerToken(secret: [UInt8], prober: PeerID, answerer: PeerID) -> [UInt8] {
        token(answerDomain, secret, prober, answerer)
    }

    /// What the prober exhibits to prove itself: the answerer's challenge bound to both ids.
    static func proofToken(challenge: [UInt8], prober: PeerID, answerer: PeerID) -> [UInt8] {
        token(proofDomain, challenge, prober, answerer)
    }

    private static func token(_ domain: [UInt8], _ secret: [UInt8], _ prober: PeerID, _ answerer: PeerID) -> [UInt8] {
        Array(SHA256.hash(data: domain + secret + prober.bytes + answerer.bytes))
    }

    /// A fresh secret from the system's random source.
    static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<secretLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Where a process keeps a secret it was given, and in a challenge the secret it wants to
    /// find in the other side's memory.
    public struct Exhibit: Hashable, Sendable {
        public var processID: Int32
        public var address: UInt64
        /// Present in a challenge, absent in a proof.
        public var challenge: [UInt8]?

        public init(processID: Int32, address: UInt64, challenge: [UInt8]?) {
            precondition(challenge.map { $0.count == SameHostProof.secretLength } ?? true, "a challenge has \(SameHostProof.secretLength) bytes")
            self.processID = processID
            self.address = address
            self.challenge = challenge
        }

        public func encoded() -> [UInt8] {
            var writer = ByteWriter()
            writer.write(UInt32(bitPattern: processID))
            writer.write(address)
            writer.write(UInt8(challenge == nil ? 0 : 1))
            if let challenge { writer.write(raw: challenge) }
            return writer.bytes
        }

        public init(decoding payload: [UInt8]) throws(WireError) {
            var reader = ByteReader(payload)
            let processID = try reader.readU32()
            guard processID > 0, processID <= UInt32(Int32.max) else {
                throw WireError.invalidValue.with(detail: "process id \(processID)")
            }
            let address = try reader.readU64()
            let challenge: [UInt8]?
            switch try reader.readU8() {
            case 0: challenge = nil
            case 1: challenge = try reader.readBytes(count: SameHostProof.secretLength)
            case let other: throw WireError.invalidValue.with(detail: "challenge flag \(other)")
            }
            try reader.expectEnd()
            self.init(processID: Int32(processID), address: address, challenge: challenge)
        }
    }
}
